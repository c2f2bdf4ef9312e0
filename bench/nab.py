"""End-to-end NAB evaluation of the production anomaly detector.

Runs ``manage.py detect_csv`` (the production detector, each file from scratch) over every
file of the NAB dev set, two files at a time, then scores the results with the shared NAB
scorer and prints all three profiles, the threshold picked for the standard profile, and
the wall-clock runtime.

    .venv/bin/python bench/nab.py [--data DIR] [--labels JSON] [--results DIR] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("OBSERVATORY_SHARED", "/work/shared"))


def child_env() -> dict:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "observatory.settings")
    if not env.get("SECRET_KEY") and not env.get("SECRET_KEY_FILE"):
        env["SECRET_KEY"] = secrets.token_urlsafe(50)  # detect_csv touches no secret
    env.setdefault("OBSERVATORY_VAR_DIR", tempfile.mkdtemp(prefix="nab-bench-var-"))
    return env


def run_file(name: str, data: Path, results: Path, env: dict) -> tuple[str, float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "detect_csv", str(data / name), str(results / name)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"detect_csv failed on {name}:\n{done.stderr}")
    return name, time.monotonic() - started, done.stderr


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED / "data/nab-dev/data")
    parser.add_argument("--labels", type=Path, default=SHARED / "data/nab-dev/combined_windows.json")
    parser.add_argument("--scorer", type=Path, default=SHARED / "eval/nab_score.py")
    parser.add_argument("--results", type=Path, default=None, help="results dir (default: a new temp dir)")
    parser.add_argument("--jobs", type=int, default=2, help="files scored at once (default 2: both cores)")
    args = parser.parse_args(argv)

    results = args.results or Path(tempfile.mkdtemp(prefix="nab-results-"))
    names = sorted(json.loads(args.labels.read_text()))
    # Longest files first, so the two workers finish together.
    names.sort(key=lambda n: -(args.data / n).stat().st_size)
    env = child_env()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        timings = list(pool.map(lambda n: run_file(n, args.data, results, env), names))
    detect_seconds = time.monotonic() - started

    report_path = results / "nab_report.json"
    scored = subprocess.run(
        [sys.executable, str(args.scorer), "--data", str(args.data), "--labels", str(args.labels),
         "--results", str(results), "--json", str(report_path)],
        capture_output=True, text=True,
    )
    total_seconds = time.monotonic() - started
    print(scored.stdout)
    if scored.returncode != 0:
        print(scored.stderr, file=sys.stderr)
        return scored.returncode
    report = json.loads(report_path.read_text())
    print(f"results in {results}")
    for profile, r in report.items():
        print(f"{profile:<20} normalised {r['overall']['normalised']:7.2f}  threshold {r['threshold']:.6g}")
    print(f"standard-profile threshold picked by the scorer: {report['standard']['threshold']:.6g}")
    rows = sum(1 for n in names for _ in open(args.data / n)) - len(names)
    slowest = max(timings, key=lambda t: t[1])
    print(f"runtime: {detect_seconds:.1f} s detecting {len(names)} files / {rows} rows with {args.jobs} "
          f"workers (slowest file {slowest[0]} {slowest[1]:.1f} s), {total_seconds:.1f} s with scoring")
    return 0


if __name__ == "__main__":
    sys.exit(main())
