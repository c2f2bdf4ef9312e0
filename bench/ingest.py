#!/usr/bin/env python
"""Ingest benchmark: the real OTLP/HTTP service under gunicorn against a bare reference app.

    .venv/bin/python bench/ingest.py [--duration 20] [--clients 4] [--workers 2] [--threads 2]

A benchmark, not a test: it prints figures and the goals next to them. Everything
runs on this machine over loopback: PostgreSQL, gunicorn, and the load generator.

1. (Re)creates a dedicated database (default observatory_bench), migrates it,
   adds a region with `manage.py add_region` and a token with `manage.py issue_token`.
2. Starts the real service (observatory.wsgi under gunicorn, the production
   gunicorn_conf) and bench/reference_app.py (decode + COPY only) under the same
   gunicorn settings.
3. For metrics, then traces: --clients processes send 1,000-item protobuf
   requests back to back over keep-alive connections (bodies pre-encoded, see
   bench/payloads.py). Each server gets --duration measured seconds, in
   --rounds slices alternating service and reference (ABBA), so a change in the
   machine's background load hits both alike. The raw tables are truncated
   before each slice, so every slice starts alike.
4. Prints rates, latency, CPU per 1k items (workers, PostgreSQL backends,
   clients), the cores each used and worker RSS, next to the goals; stops what
   it started and drops the database (unless --keep-database).

Why 2 workers x 2 threads by default: decoding, flattening and COPY encoding are
CPU-bound Python under the GIL, so one process per core is what can use both
cores; a second thread per process overlaps one request's wait on PostgreSQL
(COPY, commit) with another request's CPU work. More processes only contend for
the same two cores with PostgreSQL and the load generator, and cost memory.
"""

from __future__ import annotations

import argparse
import ipaddress
import multiprocessing
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
import urllib3  # noqa: E402
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse  # noqa: E402

from bench.harness import (CLK_TCK, ROOT, Server, backend_pids, cpu_seconds, create_database, drop_database,  # noqa: E402
                           machine_busy, manage, rss_mb, start_server)
from bench.payloads import ITEMS_PER_REQUEST, stamper  # noqa: E402

REGION = "bench-1"
RAW_TABLES = "telemetry_point, telemetry_histogram_point, telemetry_span, telemetry_dirty_minute"
GOALS = {"points": 120_000, "spans": 60_000, "p99_ms": 250, "ratio": 0.80, "cpu_points": 12.0, "cpu_spans": 18.0,
         "rss_mb": 300}


class Stop(Exception):
    pass


# --------------------------------------------------------------------------- load generator


def client(index: int, clients: int, port: int, path: str, token: str, stamp, start_at: float, end_at: float,
           results) -> None:
    """One client process: requests back to back on one keep-alive connection until end_at."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    outcome = {"latencies": [], "items": 0, "statuses": {}, "rejected": 0, "message": "", "cpu": 0.0}
    try:
        _send_until(outcome, index, clients, port, path, token, stamp, start_at, end_at)
    except Exception as exc:  # report it instead of leaving the parent waiting
        outcome["statuses"][f"client error {type(exc).__name__}"] = 1
        outcome["message"] = outcome["message"] or f"client error: {exc}"
    results.put(outcome)


def _send_until(outcome: dict, n: int, clients: int, port: int, path: str, token: str, stamp, start_at: float,
                end_at: float) -> None:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, block=True, retries=False, timeout=60)
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"}
    answer = ExportMetricsServiceResponse if path == "/v1/metrics" else ExportTraceServiceResponse
    statuses, cpu_start = outcome["statuses"], None
    while True:
        began = time.monotonic()
        if began >= end_at:
            return
        if cpu_start is None and began >= start_at:
            cpu_start = time.process_time()
        body = stamp.body(n)  # request n of the run: its own timestamps and ids
        n += clients
        try:
            response = pool.urlopen("POST", path, body=body, headers=headers)
            status, data = response.status, response.data
        except urllib3.exceptions.HTTPError as exc:
            status, data = type(exc).__name__, b""
        finished = time.monotonic()
        accepted = 0
        if status == 200:
            partial = answer.FromString(data).partial_success
            dropped = getattr(partial, "rejected_data_points", 0) or getattr(partial, "rejected_spans", 0)
            accepted = ITEMS_PER_REQUEST - dropped
            if dropped:
                outcome["rejected"] += dropped
                outcome["message"] = outcome["message"] or partial.error_message
        if start_at <= finished <= end_at:  # counted when it completes inside the measured window
            outcome["items"] += accepted
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                outcome["latencies"].append(finished - began)
            if cpu_start is not None:
                outcome["cpu"] = time.process_time() - cpu_start
        if status != 200:
            time.sleep(0.05)


@dataclass
class Phase:
    """One server and one signal: the sum of its slices (see run_slice)."""

    server: str
    signal: str
    seconds: float = 0.0
    items: int = 0
    latencies: list = field(default_factory=list)
    worker_cpu: float = 0.0
    pg_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_busy: float = 0.0  # CPU seconds used on the whole machine, by anything
    rss: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    rejected: int = 0
    message: str = ""

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def per_1k(self, cpu_seconds: float) -> float:
        return 1000 * cpu_seconds / (self.items / 1000) if self.items else 0.0

    def percentile(self, q: float) -> float:
        values = sorted(self.latencies)
        return 1000 * values[min(len(values) - 1, int(len(values) * q))] if values else 0.0

    def cores(self) -> list[float]:
        """Average cores used by the workers, their PostgreSQL backends, the clients, and everything else."""
        used = [self.worker_cpu, self.pg_cpu, self.client_cpu]
        return [u / self.seconds for u in [*used, max(0.0, self.machine_busy - sum(used))]]


def run_slice(phase: Phase, server: Server, token: str, args, warmup: float, seconds: float) -> None:
    """Truncate the raw tables; clients send back to back for warmup + seconds; add the figures to phase."""
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {RAW_TABLES}")
    stamp = stamper(phase.signal, REGION)  # pre-encoded template; clients only patch ids and timestamps
    path = "/v1/metrics" if phase.signal == "metrics" else "/v1/traces"
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    start_at = time.monotonic() + 0.5 + warmup
    end_at = start_at + seconds
    processes = [ctx.Process(target=client, args=(i, args.clients, server.port, path, token, stamp, start_at,
                                                   end_at, results), daemon=True) for i in range(args.clients)]
    try:
        for process in processes:
            process.start()
        time.sleep(max(0.0, start_at - time.monotonic()))
        workers, backends = server.workers(), backend_pids(args.database_url)
        before, pg_before, busy_before = cpu_seconds(workers), cpu_seconds(backends), machine_busy()
        time.sleep(max(0.0, end_at - time.monotonic()))
        after, busy_after = cpu_seconds(workers), machine_busy()
        pg_after = cpu_seconds(sorted(set(backends) | set(backend_pids(args.database_url))))
        pg_before.update({pid: 0.0 for pid in pg_after if pid not in pg_before})  # connected during the slice
        phase.rss = [rss_mb(pid) for pid in workers]  # the latest slice's: steady state
        outcomes = [results.get(timeout=90) for _ in processes]
        for process in processes:
            process.join(timeout=10)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
    if set(server.workers()) != set(workers):
        print(f"  warning: {server.name} workers changed during the slice (restarted?); see {server.log}")
    phase.seconds += seconds
    phase.items += sum(o["items"] for o in outcomes)
    phase.latencies += [x for o in outcomes for x in o["latencies"]]
    phase.worker_cpu += sum(after[p] - before[p] for p in before if p in after)
    phase.pg_cpu += sum(pg_after[p] - pg_before[p] for p in pg_before if p in pg_after)
    phase.client_cpu += sum(o["cpu"] for o in outcomes)
    phase.machine_busy += (busy_after - busy_before) / CLK_TCK
    phase.rejected += sum(o["rejected"] for o in outcomes)
    phase.message = phase.message or next((o["message"] for o in outcomes if o["message"]), "")
    for o in outcomes:
        for status, count in o["statuses"].items():
            phase.statuses[status] = phase.statuses.get(status, 0) + count


# --------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(phases: dict, args) -> None:
    print()
    print(f"OTLP/HTTP ingest: {ITEMS_PER_REQUEST:,} items per protobuf request, {args.clients} clients, gunicorn "
          f"{args.workers} workers x {args.threads} threads, {args.duration:g} s measured per phase in {args.rounds} "
          f"slice(s) alternating with the reference; {os.cpu_count()} CPUs shared with PostgreSQL and the clients")
    row = "  {:<50} {:>17}   {:<12} {}"
    print(row.format("", "measured", "goal", ""))
    for signal_name, unit, rate_goal, cpu_goal in (("metrics", "points", GOALS["points"], GOALS["cpu_points"]),
                                                   ("traces", "spans", GOALS["spans"], GOALS["cpu_spans"])):
        real, ref = phases.get(("service", signal_name)), phases.get(("reference", signal_name))
        if real is None:
            continue
        print(f"{signal_name}:")
        print(row.format(f"{unit}/s through the service", f"{real.rate:,.0f}", f">= {rate_goal:,}",
                         verdict(real.rate >= rate_goal)))
        cpus, other = os.cpu_count() or 1, real.cores()[3]
        if other > 0.05 * cpus:  # an estimate only, never a verdict
            print(row.format(f"  (scaled to an idle machine: x {cpus}/({cpus} - other))",
                             f"~{real.rate * cpus / max(cpus - other, 0.1):,.0f}", "", ""))
        p50, p99 = real.percentile(0.50), real.percentile(0.99)
        print(row.format("latency p50 / p99 (ms)", f"{p50:.0f} / {p99:.0f}", f"p99 < {GOALS['p99_ms']}",
                         verdict(p99 < GOALS["p99_ms"])))
        print(row.format(f"worker CPU per 1k {unit} (ms)", f"{real.per_1k(real.worker_cpu):.1f}", f"<= {cpu_goal:g}",
                         verdict(real.per_1k(real.worker_cpu) <= cpu_goal)))
        if ref is not None:
            ratio = real.rate / ref.rate if ref.rate else 0.0
            print(row.format(f"{unit}/s through the reference app", f"{ref.rate:,.0f}", "", ""))
            print(row.format("service / reference", f"{100 * ratio:.0f}%", f">= {100 * GOALS['ratio']:.0f}%",
                             verdict(ratio >= GOALS["ratio"])))
            # With every core busy, rate is about 1 / (CPU per item): this ratio shrugs off most noise.
            by_cpu = ref.per_1k(ref.worker_cpu + ref.pg_cpu + ref.client_cpu) / max(
                real.per_1k(real.worker_cpu + real.pg_cpu + real.client_cpu), 1e-9)
            print(row.format("  (the same by CPU per item: reference / service)", f"{100 * by_cpu:.0f}%", "", ""))
        for phase in (real, ref):
            if phase is None:
                continue
            print(row.format(f"{phase.server}: CPU per 1k: worker/postgres/client ms",
                             "/".join(f"{phase.per_1k(c):.1f}" for c in (phase.worker_cpu, phase.pg_cpu,
                                                                         phase.client_cpu)), "", ""))
            print(row.format(f"{phase.server}: cores used: worker/postgres/client/other",
                             "/".join(f"{c:.2f}" for c in phase.cores()), "", ""))
            print(row.format(f"{phase.server}: latency p50 / p99 (ms)",
                             f"{phase.percentile(0.5):.0f} / {phase.percentile(0.99):.0f}", "", ""))
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(phase.statuses.items(), key=str))
            print(row.format(f"{phase.server}: responses", statuses, "", ""))
            if phase.rejected:
                print(f"  {phase.server}: {phase.rejected} items rejected: {phase.message}")
    rss = [mb for (server, _), phase in phases.items() if server == "service" for mb in phase.rss]
    if rss:
        print(row.format("service worker RSS, steady (max per worker, MB)", f"{max(rss):.0f}",
                         f"< {GOALS['rss_mb']}", verdict(max(rss) < GOALS["rss_mb"])))
    print("  (\"other\" is CPU used by processes outside the benchmark: on a shared machine it steals cores and adds"
          " noise; compare runs with similar \"other\")")


# --------------------------------------------------------------------------- main


def loopback_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise SystemExit(f"--database-url must point at a loopback address, not {host!r}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per phase (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="unmeasured seconds before a phase's first slice (default 3; 1 s before later ones)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker (default 2)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="slices per phase, alternating service and reference (default 2)")
    parser.add_argument("--signals", default="metrics,traces", help="phases to run (default metrics,traces)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference app phases")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/observatory_bench",
                        help="the dedicated benchmark database; dropped and recreated (loopback only)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args(argv)
    if not (1 <= args.duration <= 600 and 0 <= args.warmup <= 60):
        parser.error("--duration must be 1..600 s and --warmup 0..60 s")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1..20")
    if not (1 <= args.clients <= 64 and 1 <= args.workers <= 16 and 1 <= args.threads <= 32):
        parser.error("--clients 1..64, --workers 1..16, --threads 1..32")
    loopback_only(args.database_url)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)

    def terminated(signum, frame):
        raise Stop(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    tmp = Path(tempfile.mkdtemp(prefix="observatory-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY_FILE", "DATABASE_URL_FILE")}
    env.update(DJANGO_SETTINGS_MODULE="observatory.settings", DATABASE_URL=args.database_url,
               SECRET_KEY=secrets.token_urlsafe(40), DEBUG="false", OBSERVATORY_VAR_DIR=str(tmp / "var"),
               PROMETHEUS_MULTIPROC_DIR=str(tmp / "prometheus"), CELERY_BROKER_URL="filesystem://",
               PYTHONPATH=str(ROOT), BENCH_DATABASE_URL=args.database_url)
    (tmp / "prometheus").mkdir()
    servers: list[Server] = []
    phases: dict = {}
    try:
        print(f"preparing {urlsplit(args.database_url).path.lstrip('/')}: create, migrate, add_region, issue_token")
        create_database(args.database_url)
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "add_region", REGION, "--group", "bench", "--role", "primary")
        token = manage(env, "issue_token", REGION).splitlines()[-1].strip()
        with psycopg.connect(args.database_url) as conn:
            env["BENCH_REGION_ID"] = str(conn.execute("SELECT id FROM regions_region WHERE name = %s",
                                                      [REGION]).fetchone()[0])
        print(f"starting gunicorn ({args.workers} workers x {args.threads} threads): service and reference app")
        service = start_server("service", "observatory.wsgi:application", env, args, tmp)
        servers.append(service)
        reference = None
        if not args.no_reference:
            reference = start_server("reference", "bench.reference_app:application", env, args, tmp)
            servers.append(reference)
        for server in servers:  # e.g. for py-spy record --pid
            print(f"  {server.name}: 127.0.0.1:{server.port}, gunicorn {server.process.pid}, workers "
                  f"{' '.join(map(str, server.workers()))}")
        for signal_name in [s.strip() for s in args.signals.split(",") if s.strip()]:
            servers_in_order = [server for server in (service, reference) if server is not None]
            for server in servers_in_order:
                phases[(server.name, signal_name)] = Phase(server.name, signal_name)
            for round_no in range(args.rounds):
                # ABBA order: a slow drift of the machine's background load hits both servers alike.
                for server in (servers_in_order if round_no % 2 == 0 else servers_in_order[::-1]):
                    phase = phases[(server.name, signal_name)]
                    warmup = args.warmup if round_no == 0 else min(args.warmup, 1.0)
                    print(f"{server.name}/{signal_name} slice {round_no + 1}/{args.rounds}: {warmup:g} s warm-up +"
                          f" {args.duration / args.rounds:g} s", flush=True)
                    run_slice(phase, server, token, args, warmup, args.duration / args.rounds)
            for server in servers_in_order:
                phase = phases[(server.name, signal_name)]
                print(f"  {server.name}/{signal_name}: {phase.rate:,.0f} items/s, p99 {phase.percentile(0.99):.0f} ms,"
                      f" worker CPU {phase.per_1k(phase.worker_cpu):.1f} ms/1k", flush=True)
        report(phases, args)
        return 0
    except (KeyboardInterrupt, Stop) as exc:
        print(f"interrupted ({exc or 'Ctrl-C'}); cleaning up", file=sys.stderr)
        return 130
    finally:
        for server in servers:
            server.stop()
        if not args.keep_database:
            try:
                drop_database(args.database_url)
            except psycopg.Error as exc:
                print(f"could not drop the benchmark database: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
