#!/usr/bin/env python
"""Alerting benchmark: one evaluate + dispatch cycle over 10,000 active alerts, and the time from
an alert firing to its notification reaching a real receiver.

    .venv/bin/python bench/alerting.py [--regions 100] [--services 100] [--cycles 8] [--churn 0.01]
                                       [--group-wait 10] [--trials 5] [--keep-database]

A benchmark, not a test: it prints figures and the goals next to them.
Goals (issue 7): "evaluating 10,000 active alert instances takes under 2 s per cycle" and
"a notification leaves within group_wait plus 5 s".

1. Creates and migrates a dedicated database (--database-url, default observatory_alertbench;
   dropped at the end unless --keep-database) and flushes the Redis db of --broker-url.
2. Seeds --regions regions x --services SLOs, each (SLO, region) with a SloStatus whose ticket
   tier fires: through the real alert source (alerting.sources), that is regions x services
   active alert conditions (10,000 by default), grouped by alertname and region. One endpoint
   subscribed to alert.* (Alertmanager body) points at tests/webhook_receiver.py.
3. Cycle timing, in this process on a simulated clock 5 s apart (the beat cadence): each cycle
   flips --churn of the tiers (some alerts resolve, others fire again, outside the timing),
   then times evaluate_alerts(now) (reading the sources included) and dispatch(now). The first
   cycle creates every alert (cold); the median is over the rest.
4. Latency: starts `celery -A observatory worker` with ALERT_GROUP_WAIT_SECONDS=--group-wait on the
   same database (10,000 alerts already active) and plays beat's run-alerting (every 5 s) and
   send-due-deliveries (every 2 s) entries for it (the rest of the schedule stays off: the real
   SLO evaluator would rewrite the synthetic SLO statuses), then --trials times adds one firing tier in
   a new region (a new group) and waits for the receiver to get its notification. It prints the
   time from the alert's firing_since (written by the worker's evaluation) to receipt, and from
   the condition's row being written to receipt (which adds up to one 5 s alerting cycle), plus
   the worker's run_alerting task durations from its log.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

GOAL_CYCLE_SECONDS = 2.0
GOAL_SLACK_SECONDS = 5.0
CADENCE_SECONDS = 5.0


def with_name(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_name(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_name(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def tier(firing: bool, severity: str = "ticket") -> dict:
    return {"tier": "3d/6h", "severity": severity, "firing": firing, "inhibited": False, "threshold": 1.0,
            "long_burn": 1.7, "short_burn": 2.1}


def seed(regions: int, services: int, receiver_url: str, secret: str) -> list:
    from django.utils import timezone

    from observatory.delivery.models import Endpoint
    from observatory.regions.models import Region
    from observatory.slos.models import Slo, SloStatus

    now = timezone.now()
    Region.objects.bulk_create([Region(name=f"r{i:03d}") for i in range(regions)])
    Slo.objects.bulk_create([Slo(name=f"svc-{j:03d}-availability", service=f"svc-{j:03d}", objective=0.999,
                                 kind="availability") for j in range(services)])
    statuses = [SloStatus(slo=slo, region=region, evaluated_at=now, as_of=now, burn_rates={}, tiers=[tier(True)],
                          budget_remaining=0.5, events=1e6, ticket=True)
                for slo in Slo.objects.all() for region in Region.objects.all()]
    SloStatus.objects.bulk_create(statuses, batch_size=2000)
    Endpoint.objects.create(name="oncall", url=receiver_url, secret=secret, events=["alert.*"], format="alertmanager")
    return list(SloStatus.objects.all())


def time_cycles(statuses: list, cycles: int, churn: float) -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from observatory.alerting.dispatch import dispatch
    from observatory.alerting.evaluate import evaluate_alerts
    from observatory.alerting.models import Alert
    from observatory.slos.models import SloStatus

    rng = random.Random(7)
    start = timezone.now() - timedelta(seconds=CADENCE_SECONDS * (cycles + 2))  # simulated times stay past
    results = []
    for k in range(cycles):
        if k > 1:  # the first cycles see every alert fire; later ones see churn
            flipped = rng.sample(statuses, int(len(statuses) * churn))
            for status in flipped:
                status.tiers = [tier(not status.tiers[0]["firing"])]
            SloStatus.objects.bulk_update(flipped, ["tiers"])
        now = start + timedelta(seconds=CADENCE_SECONDS * k)
        with CaptureQueriesContext(connection) as queries:
            began, cpu = time.perf_counter(), time.process_time()
            evaluated = evaluate_alerts(now=now)
            middle = time.perf_counter()
            sent = dispatch(now=now)
            ended = time.perf_counter()
        results.append({"evaluate": middle - began, "dispatch": ended - middle, "total": ended - began,
                        "cpu": time.process_time() - cpu, "load": os.getloadavg()[0],
                        "changed": evaluated["changed"], "sent": sent, "queries": len(queries),
                        "firing": Alert.objects.filter(state="firing").count()})
        r = results[-1]
        print(f"  cycle {k + 1}: evaluate {r['evaluate']:.3f} s + dispatch {r['dispatch']:.3f} s = "
              f"{r['total']:.3f} s; {r['firing']} firing, {r['changed']} changed, {r['sent']} notifications, "
              f"{r['queries']} queries; this process's CPU {r['cpu']:.3f} s, load average {r['load']:.1f}",
              flush=True)
    return results


def received(port: int) -> list[dict]:
    import requests

    return requests.get(f"http://127.0.0.1:{port}/received", timeout=10).json()


def latency_trials(trials: int, port: int, group_wait: int, budget: float) -> list[dict]:
    from observatory.alerting.models import Alert
    from observatory.analytics.alerts import fingerprint
    from observatory.regions.models import Region
    from observatory.slos.models import Slo, SloStatus
    from django.utils import timezone

    slo = Slo.objects.order_by("name").first()
    rng = random.Random(11)
    results = []
    for i in range(trials):
        time.sleep(rng.uniform(0, CADENCE_SECONDS))  # start at a different point of the alerting cycle
        region = Region.objects.create(name=f"new-{i}")
        now = timezone.now()
        SloStatus.objects.create(slo=slo, region=region, evaluated_at=now, as_of=now, burn_rates={},
                                 tiers=[tier(True, "page")], budget_remaining=0.1, events=1e6, page=True)
        written = time.time()
        deadline = written + budget
        got = None
        while got is None and time.time() < deadline:
            time.sleep(0.1)
            got = next((r for r in received(port) if r["body"] and r["body"].get("groupLabels", {}).get("region")
                        == region.name), None)
        if got is None:
            print(f"  trial {i + 1}: no notification within {budget:.0f} s", flush=True)
            continue
        labels = {"alertname": "SloBurnRate", "severity": "page", "source": "slo", "slo": slo.name,
                  "service": slo.service, "region": region.name, "tier": "3d/6h"}
        fired = Alert.objects.get(fingerprint=fingerprint(labels)).firing_since.timestamp()
        results.append({"from_firing": got["at"] - fired, "from_written": got["at"] - written,
                        "verified": got["verified"]})
        print(f"  trial {i + 1}: firing -> received {got['at'] - fired:.2f} s (group_wait {group_wait} s); "
              f"condition written -> received {got['at'] - written:.2f} s; signature verified: {got['verified']}",
              flush=True)
    return results


def play_beat(stop: threading.Event) -> None:
    """The beat schedule's alerting and delivery entries, with their expiries. The rest of the schedule stays
    off: the real SLO evaluator would rewrite the synthetic SLO statuses from (absent) telemetry."""
    from observatory.schedule import BEAT_SCHEDULE

    entries = [BEAT_SCHEDULE["run-alerting"], BEAT_SCHEDULE["send-due-deliveries"]]
    due = [time.monotonic()] * len(entries)
    while not stop.is_set():
        for i, entry in enumerate(entries):
            if time.monotonic() >= due[i]:
                name = entry["task"].rsplit(".", 1)
                task = getattr(__import__(name[0], fromlist=[name[1]]), name[1])
                task.apply_async(expires=entry["options"]["expires"])
                due[i] += entry["schedule"]
        stop.wait(0.05)


def task_durations(log: Path, task: str) -> list[float]:
    pattern = re.compile(re.escape(task) + r"\[[^\]]+\] succeeded in ([0-9.]+)s")
    return [float(m) for m in pattern.findall(log.read_text())]


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"min {min(values):.3f} / median {statistics.median(values):.3f} / max {max(values):.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres:postgres@127.0.0.1:5432/observatory_alertbench")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--regions", type=int, default=100)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--churn", type=float, default=0.01, help="share of conditions flipped per cycle")
    parser.add_argument("--group-wait", type=int, default=10)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="observatory-alertbench-"))
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY_FILE", "DATABASE_URL_FILE")}
    env.update(DJANGO_SETTINGS_MODULE="observatory.settings", DATABASE_URL=args.database_url,
               CELERY_BROKER_URL=args.broker_url, SECRET_KEY=secrets.token_urlsafe(40), DEBUG="false",
               OBSERVATORY_VAR_DIR=str(tmp / "var"), OUTBOUND_ALLOW_PRIVATE="true", PYTHONPATH=str(ROOT),
               ALERT_GROUP_WAIT_SECONDS="0")
    os.environ.update(env)
    children: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    import redis

    try:
        recreate_database(args.database_url)
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
                       check=True, timeout=600)
        redis.Redis.from_url(args.broker_url).flushdb()
        import django

        django.setup()
        port = free_port()
        children.append(spawn([sys.executable, str(ROOT / "tests" / "webhook_receiver.py"), str(port), secret], env,
                              tmp / "receiver.log"))
        began = time.perf_counter()
        statuses = seed(args.regions, args.services, f"http://127.0.0.1:{port}/hook", secret)
        print(f"seeded {len(statuses)} firing SLO tiers ({args.regions} regions x {args.services} services) in "
              f"{time.perf_counter() - began:.1f} s; database {urlsplit(args.database_url).path[1:]}", flush=True)

        print(f"cycle timing (simulated clock, {CADENCE_SECONDS:g} s apart, {args.churn:.0%} churn per cycle):")
        cycles = time_cycles(statuses, args.cycles, args.churn)

        from django.db import connection

        from observatory.delivery.models import Delivery

        Delivery.objects.all().delete()  # the timing cycles' notifications are not part of the latency trials
        connection.close()
        redis.Redis.from_url(args.broker_url).flushdb()
        worker_log = tmp / "worker.log"
        children.append(spawn([sys.executable, "-m", "celery", "-A", "observatory", "worker", "--loglevel",
                               "INFO", "--concurrency", "2", "--hostname", f"alertbench-{secrets.token_hex(4)}@localhost"],
                              {**env, "ALERT_GROUP_WAIT_SECONDS": str(args.group_wait)}, worker_log))
        print(f"latency: celery worker (concurrency 2), group_wait {args.group_wait} s, this process playing beat "
              f"for the alerting and delivery entries (alerting every {CADENCE_SECONDS:g} s); {args.trials} trials",
              flush=True)
        stop = threading.Event()
        threading.Thread(target=play_beat, args=(stop,), daemon=True).start()
        time.sleep(CADENCE_SECONDS * 3)  # the worker's first cycles
        try:
            trials = latency_trials(args.trials, port, args.group_wait, args.group_wait + 60)
        finally:
            stop.set()
        runs = task_durations(worker_log, "observatory.alerting.tasks.run_alerting")

        steady = [c["total"] for c in cycles[1:]]
        print("\nresults")
        print(f"  cold cycle (creates {cycles[0]['firing']} alerts): {cycles[0]['total']:.3f} s")
        print(f"  steady cycles (evaluate + dispatch, {len(steady)}): {spread(steady)} s; "
              f"goal median < {GOAL_CYCLE_SECONDS:g} s: "
              f"{'met' if steady and statistics.median(steady) < GOAL_CYCLE_SECONDS else 'NOT met'}")
        print(f"    of which evaluate {spread([c['evaluate'] for c in cycles[1:]])} s, "
              f"dispatch {spread([c['dispatch'] for c in cycles[1:]])} s; "
              f"this process's CPU {spread([c['cpu'] for c in cycles[1:]])} s "
              f"(machine: {os.cpu_count()} cores, load average {spread([c['load'] for c in cycles])})")
        print(f"  worker run_alerting task ({len(runs)} runs, real clock, same data): {spread(runs)} s")
        from_firing = [t["from_firing"] for t in trials]
        print(f"  firing -> notification received ({len(trials)}/{args.trials} trials): {spread(from_firing)} s; "
              f"goal <= group_wait + {GOAL_SLACK_SECONDS:g} = {args.group_wait + GOAL_SLACK_SECONDS:g} s: "
              f"{'met' if len(trials) == args.trials and max(from_firing) <= args.group_wait + GOAL_SLACK_SECONDS else 'NOT met'}")
        print(f"  condition written -> received: {spread([t['from_written'] for t in trials])} s "
              f"(includes waiting for the next {CADENCE_SECONDS:g} s alerting cycle)")
        print(f"  every notification's signature verified: {all(t['verified'] for t in trials)}")
        return 0
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up yet
            pass
        redis.Redis.from_url(args.broker_url).flushdb()
        if not args.keep_database:
            drop_database(args.database_url)
        print(f"logs in {tmp}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
