#!/usr/bin/env python
"""SLO evaluation benchmark: one incremental cycle (observatory.slos.evaluate.run_cycle) against history length.

    .venv/bin/python bench/slo.py [--days 1,7,30] [--cycles 10] [--warmup 2] [--keep] [--reuse] [--profile]
                                  [--evaluation-history] [--roll-lag 0] [--verbose]

A benchmark, not a test: it prints figures and the goals next to them.
Goal: "100 SLOs x 10 regions over 30 days of minute rollups: one evaluation cycle
takes under 2 s; the cycle's cost with 1, 7 and 30 days of history stays within
1.5x of each other."

1. For each history length H (--days) it (re)creates a dedicated database
   <--database-url name>_<H>d and migrates it (`manage.py migrate`; the later ones
   are copied from the first with CREATE DATABASE ... TEMPLATE). Each gets --regions
   regions and --slos span-source SLOs on as many services (even: availability,
   odd: latency <= 250 ms; objective 0.999, 30-day window).
2. Seeds H days of SliMinute history for every SLO x region, server-side
   (INSERT ... SELECT ... FROM generate_series, one day per statement, oldest first
   so the heap is in minute order as the cycle itself writes it; secondary indexes
   dropped during the load and rebuilt after; FK triggers off while loading), then
   VACUUM ANALYZE. Past SpanMinute rows are optional (--span-history): the cycle only
   reads rollups whose rolled_at is past its watermark. The 1-day seed time is used
   to estimate the others; if the 30-day estimate exceeds --seed-budget, the longer
   points get fewer SLOs (same rows per SLO x region) and the report says so.
3. WindowState is set to the exact window sums as of the last seeded minute with
   one GROUP BY over SliMinute (what run_cycle's first-sight _rebuild computes with
   one query per pair and window; --rebuild-by-cycle lets the first cycle do it
   instead and prints its time), and ops.Heartbeat "slo-cycle" is set to that
   minute + 30 s. --warmup unmeasured cycles then run through the real code.
4. Measured cycles, interleaved across the databases (round-robin, order rotated
   per round, so machine noise hits every H alike): each adds one new minute of
   SpanMinute rows (regions x services, with some errors, rolled_at = simulated now
   - --roll-lag) in its own transaction, then times run_cycle(now) with now one
   minute later than the previous cycle of that database: windows really slide and
   minutes really expire. Per cycle: wall time, this process's CPU, the PostgreSQL
   backend's CPU, the CPU the rest of the machine used meanwhile (neighbours), time
   in Python's garbage collector, the number of SQL queries and their time by kind
   (CaptureQueriesContext), time per step of run_cycle (its helpers and Django's
   bulk writes, wrapped for the cycle), rollup rows re-read and SliMinute rows
   expired. When the server's autovacuum is off, the tables every cycle rewrites
   (WindowState, SloStatus, Heartbeat) are vacuumed between rounds, outside the
   timing (--vacuum). --evaluation-history also seeds the Evaluation rows past
   cycles appended (1,100 a minute), since each cycle inserts into that index too.
5. Checks the slid WindowState of a few pairs against _rebuild (a full recompute),
   prints min/median/max per H, the max/min ratio of the medians (and of CPU), and
   the goals. --profile runs one more cycle per H under cProfile and prints the top
   functions.

The databases are dropped at the end unless --keep; --reuse continues on kept
databases (same H, SLOs and regions) without seeding again.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import os
import pstats
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

GOAL_SECONDS = 2.0
GOAL_RATIO = 1.5
MINUTES_PER_DAY = 1440
OPERATION = "GET /api"
LATENCY_THRESHOLD_MS = 250.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

# One formula for the seeded SliMinute history and the new SpanMinute rows, so a re-read minute gives no delta.
# e = minutes since the epoch; s = slo id (one SLO per service), r = region id.
TOTAL_SQL = "(60 + mod(s.id * 7919 + r.id * 104729 + m.e, 121))"
ERRORS_SQL = "(CASE WHEN mod(s.id * 31 + r.id * 17 + m.e, 50) = 0 THEN 1 + mod(m.e, 5) ELSE 0 END)"


class Stop(Exception):
    pass


# --------------------------------------------------------------------------- databases (psycopg, autocommit)


def with_name(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def maintenance_url(url: str) -> str:
    return with_name(url, "postgres")


def database_exists(url: str) -> bool:
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name(url)]).fetchone() is not None


def create_database(url: str, template: str | None = None) -> None:
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name(url)}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name(url)}"' + (f' TEMPLATE "{template}"' if template else ""))


def drop_database(url: str) -> None:
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name(url)}" WITH (FORCE)')


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def loopback_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"--database-url must point at a loopback address, not {host!r}")


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all CPUs, idle and iowait excluded), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def proc_cpu(pid: int) -> float:
    """utime + stime of a process in seconds (the PostgreSQL backend serving the benchmark)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return float("nan")


# --------------------------------------------------------------------------- seeding


@dataclass
class Point:
    """One history length: its database, simulated clock and measurements."""

    days: int
    url: str
    slos: int
    regions: int
    now: datetime | None = None  # simulated time of the last cycle (= the watermark)
    seed_seconds: float = 0.0
    seed_phases: dict = field(default_factory=dict)
    reused: bool = False
    wrapper: object = None  # Django DatabaseWrapper for this database
    backend_pid: int = 0
    cycles: list = field(default_factory=list)  # measured Cycle records
    first_cycle: float | None = None
    evaluation_history: bool = False

    @property
    def label(self) -> str:
        return f"{self.days}d"

    @property
    def minutes(self) -> int:
        return self.days * MINUTES_PER_DAY

    @property
    def rows(self) -> int:
        return self.minutes * self.slos * self.regions


def secondary_index_ddl(conn, table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(unique constraints, plain indexes) of ``table`` other than the primary key: (name, DDL to recreate)."""
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
        " AND contype = 'u'", [table]).fetchall()
    indexes = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s"
        " AND i.indexname NOT IN (SELECT c.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conindid"
        " WHERE k.conrelid = %s::regclass)", [table, table]).fetchall()
    return ([(name, f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}") for name, definition in
             constraints], list(indexes))


def create_partitions(conn, table: str, first: datetime, last: datetime) -> None:
    """The rollup tables are partitioned on PostgreSQL (by day or month): raw SQL writers make their own."""
    from observatory.telemetry import rollup_partitions as parts

    period = parts.ROLLUP_TABLES[table][1]
    start = parts.period_start(first, period)
    while start <= parts.period_start(last, period):
        conn.execute(parts.create_sql(table, start))
        start = parts.period_end(start, period)


def drop_secondary_indexes(conn, table: str) -> list[str]:
    """Drop them for a bulk load; returns the DDL that recreates them."""
    constraints, indexes = secondary_index_ddl(conn, table)
    for name, _ddl in constraints:
        conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ddl in indexes:
        conn.execute(f"DROP INDEX {name}")
    return [ddl for _name, ddl in constraints + indexes]


def seed_evaluations(point: Point, progress) -> float:
    """--evaluation-history: what past cycles appended to slos_evaluation (one row per SLO x region and per SLO
    globally, every minute of the history, up to the current watermark), with small JSON payloads."""
    started = time.monotonic()
    last = point.now.replace(second=0, microsecond=0)
    with psycopg.connect(point.url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET maintenance_work_mem = '1GB'")
        ddl = drop_secondary_indexes(conn, "slos_evaluation")
        day, chunk_start = timedelta(days=1), last - timedelta(minutes=point.minutes - 1)
        while chunk_start <= last:
            chunk_end = min(chunk_start + day - timedelta(minutes=1), last)
            conn.execute(
                "INSERT INTO slos_evaluation (evaluated_at, as_of, burn_rates, tiers, budget_remaining,"
                " exhaustion_seconds, events, page, ticket, slo_id, region_id)"
                " SELECT g + interval '30 seconds', g, '{\"3600\": 0.5}'::jsonb, '[]'::jsonb, 0.9, NULL, 100000,"
                " false, false, s.id, r.id"
                " FROM generate_series(%s::timestamptz, %s::timestamptz, interval '1 minute') g"
                " CROSS JOIN (SELECT id FROM slos_slo ORDER BY id) s"
                " CROSS JOIN (SELECT id FROM regions_region UNION ALL SELECT NULL) r", [chunk_start, chunk_end])
            chunk_start = chunk_end + timedelta(minutes=1)
        progress(f"  {point.label}: evaluation rows inserted in {time.monotonic() - started:.0f} s; indexes ...")
        for statement in ddl:
            conn.execute(statement)
        conn.execute("SET session_replication_role = DEFAULT")
        conn.execute("VACUUM ANALYZE slos_evaluation")
        conn.execute("ALTER TABLE bench_slo_meta ADD COLUMN IF NOT EXISTS evaluation_history boolean")
        conn.execute("UPDATE bench_slo_meta SET evaluation_history = true")
    return time.monotonic() - started


def seed(point: Point, as_of: datetime, args, progress) -> None:
    """Regions, SLOs, H days of SliMinute ending at ``as_of``, WindowState as of ``as_of``, the watermark."""
    started = time.monotonic()
    with psycopg.connect(point.url, autocommit=True) as conn:
        conn.execute("INSERT INTO regions_region (name, \"group\", role, rpo_seconds, probe_url, probe_interval_seconds,"
                     " probe_timeout_seconds, probe_failure_threshold, created_at, updated_at)"
                     " SELECT 'bench-' || lpad(i::text, 2, '0'), 'bench', CASE WHEN i = 0 THEN 'primary' ELSE"
                     " 'standby' END, 60, '', 10, 2.0, 3, now(), now() FROM generate_series(0, %s - 1) i",
                     [point.regions])
        conn.execute("INSERT INTO slos_slo (name, service, operations, objective, window_days, kind, source,"
                     " threshold_ms, good_metric, total_metric, min_events, description, created_at, updated_at)"
                     " SELECT 'svc-' || lpad(i::text, 3, '0') || CASE WHEN mod(i, 2) = 0 THEN '-availability' ELSE"
                     " '-latency' END, 'svc-' || lpad(i::text, 3, '0'), '[]'::jsonb, 0.999, 30,"
                     " CASE WHEN mod(i, 2) = 0 THEN 'availability' ELSE 'latency' END, 'spans',"
                     " CASE WHEN mod(i, 2) = 0 THEN NULL ELSE %s END, '', '', 100, '', now(), now()"
                     " FROM generate_series(0, %s - 1) i", [LATENCY_THRESHOLD_MS, point.slos])

        # Bulk load: secondary indexes off (rebuilt after), FK triggers off, big sort memory for the rebuild.
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET maintenance_work_mem = '1GB'")
        ddl = drop_secondary_indexes(conn, "slos_sliminute")
        t0 = time.monotonic()
        first = as_of - timedelta(minutes=point.minutes - 1)
        create_partitions(conn, "slos_sliminute", first, as_of)
        day = timedelta(days=1)
        chunk_start, done_rows = first, 0
        while chunk_start <= as_of:
            chunk_end = min(chunk_start + day - timedelta(minutes=1), as_of)
            conn.execute(
                "INSERT INTO slos_sliminute (slo_id, region_id, minute, good, total)"
                f" SELECT s.id, r.id, m.minute, {TOTAL_SQL} - {ERRORS_SQL}, {TOTAL_SQL}"
                " FROM (SELECT g AS minute, (extract(epoch FROM g)::bigint / 60) AS e"
                "       FROM generate_series(%s::timestamptz, %s::timestamptz, interval '1 minute') g) m"
                " CROSS JOIN (SELECT id FROM slos_slo ORDER BY id) s CROSS JOIN (SELECT id FROM regions_region"
                " ORDER BY id) r", [chunk_start, chunk_end])
            done_rows += (int((chunk_end - chunk_start).total_seconds() // 60) + 1) * point.slos * point.regions
            chunk_start = chunk_end + timedelta(minutes=1)
            elapsed = time.monotonic() - t0
            progress(f"  {point.label}: {done_rows:,}/{point.rows:,} SliMinute rows, {elapsed:.0f} s"
                     f" ({done_rows / max(elapsed, 1e-9):,.0f} rows/s)")
        point.seed_phases["insert"] = time.monotonic() - t0
        if args.span_history:
            t0 = time.monotonic()
            insert_span_minutes(conn, first, as_of, rolled_lag=timedelta(seconds=20), rolled_at=None)
            point.seed_phases["span history"] = time.monotonic() - t0
        t0 = time.monotonic()
        for statement in ddl:
            conn.execute(statement)
        conn.execute("SET session_replication_role = DEFAULT")
        point.seed_phases["indexes"] = time.monotonic() - t0

        t0 = time.monotonic()
        windows = window_keys()
        sums = ", ".join(
            f"'{key}', jsonb_build_array(COALESCE(SUM(good) FILTER (WHERE minute > %(as_of)s - interval '{key} seconds'),"
            f" 0), COALESCE(SUM(total) FILTER (WHERE minute > %(as_of)s - interval '{key} seconds'), 0))"
            for key in windows)
        conn.execute(
            "INSERT INTO slos_windowstate (slo_id, region_id, as_of, sums)"
            f" SELECT slo_id, region_id, %(as_of)s, jsonb_build_object({sums}) FROM slos_sliminute"
            f" WHERE minute > %(as_of)s - interval '{max(map(int, windows))} seconds' AND minute <= %(as_of)s"
            " GROUP BY slo_id, region_id", {"as_of": as_of})
        point.now = as_of + timedelta(seconds=30)
        conn.execute("INSERT INTO ops_heartbeat (name, beat_at) VALUES ('slo-cycle', %s)"
                     " ON CONFLICT (name) DO UPDATE SET beat_at = EXCLUDED.beat_at", [point.now])
        if args.rebuild_by_cycle:
            conn.execute("DELETE FROM slos_windowstate")
        point.seed_phases["window state"] = time.monotonic() - t0

        t0 = time.monotonic()
        conn.execute("VACUUM ANALYZE")
        point.seed_phases["vacuum analyze"] = time.monotonic() - t0
        conn.execute("CREATE TABLE bench_slo_meta (days int, slos int, regions int, rows bigint,"
                     " seed_seconds float8)")
        point.seed_seconds = time.monotonic() - started
        conn.execute("INSERT INTO bench_slo_meta VALUES (%s, %s, %s, %s, %s)",
                     [point.days, point.slos, point.regions, point.rows, point.seed_seconds])


def window_keys() -> list[str]:
    from observatory.analytics import slo as math

    return [str(int(w.total_seconds())) for w in math.WINDOWS + (timedelta(days=30),)]


def insert_span_minutes(conn, first: datetime, last: datetime, rolled_lag: timedelta, rolled_at) -> int:
    """SpanMinute rows for every service x region and minute in [first, last]; latency buckets put the errors
    in the 500-1000 ms bucket (over the latency SLOs' 250 ms), everything else in 10-25 ms."""
    rolled = "%(rolled_at)s::timestamptz" if rolled_at is not None else "m.minute + %(lag)s::interval"
    create_partitions(conn, "telemetry_span_minute", first, last)
    cursor = conn.execute(
        "INSERT INTO telemetry_span_minute (region_id, service, operation, minute, requests, errors,"
        " duration_sum_ms, latency_buckets, rolled_at)"
        f" SELECT r.id, s.service, %(operation)s, m.minute, {TOTAL_SQL}, {ERRORS_SQL},"
        f" ({TOTAL_SQL} - {ERRORS_SQL}) * 20.0 + {ERRORS_SQL} * 800.0,"
        f" jsonb_build_array(0, 0, {TOTAL_SQL} - {ERRORS_SQL}, 0, 0, 0, 0, {ERRORS_SQL}, 0, 0, 0, 0), {rolled}"
        " FROM (SELECT g AS minute, (extract(epoch FROM g)::bigint / 60) AS e"
        "       FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 minute') g) m"
        " CROSS JOIN slos_slo s CROSS JOIN regions_region r",
        {"operation": OPERATION, "first": first, "last": last, "lag": rolled_lag, "rolled_at": rolled_at})
    return cursor.rowcount


def read_meta(point: Point) -> tuple | None:
    try:
        with psycopg.connect(point.url, autocommit=True) as conn:
            meta = conn.execute("SELECT days, slos, regions, seed_seconds, to_jsonb(m) ? 'evaluation_history'"
                                " AND coalesce((to_jsonb(m) ->> 'evaluation_history')::boolean, false)"
                                " FROM bench_slo_meta m").fetchone()
            beat = conn.execute("SELECT beat_at FROM ops_heartbeat WHERE name = 'slo-cycle'").fetchone()
            return (*meta, beat[0]) if meta and beat else None
    except psycopg.Error:
        return None


# --------------------------------------------------------------------------- Django side


def django_setup(first_url: str, tmp: Path) -> None:
    os.environ.update(DJANGO_SETTINGS_MODULE="observatory.settings", DATABASE_URL=first_url,
                      SECRET_KEY=secrets.token_urlsafe(40), DEBUG="false", OBSERVATORY_VAR_DIR=str(tmp / "var"),
                      CELERY_BROKER_URL="filesystem://", LOG_LEVEL="WARNING")
    for name in ("SECRET_KEY_FILE", "DATABASE_URL_FILE", "PROMETHEUS_MULTIPROC_DIR"):
        os.environ.pop(name, None)
    import django

    django.setup()


def make_wrapper(url: str):
    """A Django connection to ``url`` under the alias 'default' (swapped in with use())."""
    from django.db import connections
    from django.db.utils import load_backend

    settings_dict = copy.deepcopy(connections.settings["default"])
    settings_dict["NAME"] = db_name(url)
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")


def use(point: Point) -> None:
    from django.db import connection, connections

    connections["default"] = point.wrapper
    connection.ensure_connection()
    assert connection.settings_dict["NAME"] == db_name(point.url)
    if not point.backend_pid:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            point.backend_pid = cursor.fetchone()[0]


QUERY_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.I)


def query_kind(sql: str) -> str:
    verb = sql.lstrip().split(None, 1)[0].upper()
    if verb in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
        return verb
    match = QUERY_TABLE.search(sql)
    table = match.group(1) if match else "?"
    if verb == "SELECT" and table == "slos_sliminute":
        return "SELECT slos_sliminute (expiry SUM)" if "SUM(" in sql else "SELECT slos_sliminute (stored minutes)"
    if verb == "INSERT" and "ON CONFLICT" in sql:
        return f"UPSERT {table}"
    return f"{verb} {table}"


@dataclass
class Cycle:
    wall: float
    cpu: float  # this process (Python, Django, psycopg)
    backend_cpu: float  # the PostgreSQL backend
    queries: int
    query_seconds: float
    by_kind: dict  # kind -> [count, seconds]
    reread: int  # rollup rows read by the cycle
    expired: int  # SliMinute rows leaving some window
    steps: dict = field(default_factory=dict)  # run_cycle step -> seconds
    others: float = 0.0  # CPU cores the rest of the machine kept busy meanwhile (noise from neighbours)
    gc_seconds: float = 0.0  # in Python's cyclic garbage collector
    full_collections: int = 0  # generation-2 collections


def pre_cycle(point: Point, roll_lag: timedelta) -> tuple[datetime, int, int]:
    """Advance the simulated clock by one minute and add that minute's SpanMinute rows (own transaction)."""
    from django.db import connection

    from observatory.analytics import slo as math
    from observatory.slos.evaluate import OVERLAP

    previous = point.now
    now = previous + timedelta(minutes=1)
    as_of = now.replace(second=0, microsecond=0)
    previous_as_of = previous.replace(second=0, microsecond=0)
    with connection.cursor() as cursor:
        insert_span_minutes(cursor, as_of, as_of, rolled_lag=timedelta(0), rolled_at=now - roll_lag)
        cursor.execute("SELECT count(*) FROM telemetry_span_minute WHERE rolled_at > %s AND minute <= %s",
                       [previous - OVERLAP, as_of])
        reread = cursor.fetchone()[0]
        expired = 0
        for window in math.WINDOWS + (timedelta(days=30),):
            cursor.execute("SELECT count(*) FROM slos_sliminute WHERE minute > %s AND minute <= %s",
                           [previous_as_of - window, as_of - window])
            expired += cursor.fetchone()[0]
    return now, reread, expired


class gc_timer:
    """Time spent in Python's cyclic garbage collector during the cycle, per generation."""

    def __init__(self):
        self.seconds = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._start = 0.0

    def _callback(self, phase, info):
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._start
            self.count[info["generation"]] += 1

    def __enter__(self):
        import gc

        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc):
        import gc

        gc.callbacks.remove(self._callback)


class phase_timers:
    """Time run_cycle's steps and Django's bulk writes per model, unprofiled, by wrapping them for one cycle
    (evaluate.py looks its helpers up as module globals at call time, so the wrappers are what it calls)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._undo: list = []

    def _wrap(self, owner, attribute: str, label) -> None:
        original = getattr(owner, attribute)
        seconds = self.seconds

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label(args) if callable(label) else label] += time.perf_counter() - start

        setattr(owner, attribute, wrapper)
        self._undo.append((owner, attribute, original))

    def __enter__(self):
        from django.db.models.query import QuerySet

        from observatory.slos import evaluate, sli

        self._wrap(sli, "count_changed", "  sli.count_changed (rollups -> SLI counts)")
        self._wrap(evaluate, "_store_minutes", "_store_minutes (incl. count_changed, SliMinute writes)")
        self._wrap(evaluate, "_expired", "  _expired (8 SUM queries over SliMinute)")
        self._wrap(evaluate, "_slide_windows", "_slide_windows (incl. _expired, WindowState writes)")
        self._wrap(evaluate, "_record", "_record (evaluate, Evaluation + SloStatus writes)")
        self._wrap(QuerySet, "bulk_create", lambda a: f"  bulk_create {a[0].model.__name__}")
        self._wrap(QuerySet, "bulk_update", lambda a: f"  bulk_update {a[0].model.__name__}")
        return self

    def __exit__(self, *exc):
        for owner, attribute, original in reversed(self._undo):
            setattr(owner, attribute, original)


def run_one(point: Point, roll_lag: timedelta, profile: cProfile.Profile | None = None) -> Cycle:
    import gc

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from observatory.slos.evaluate import run_cycle

    use(point)
    now, reread, expired = pre_cycle(point, roll_lag)
    precise: dict[str, float] = defaultdict(float)  # the debug cursor rounds times to the millisecond

    def timed(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            precise[query_kind(sql)] += time.perf_counter() - start

    gc.collect()
    backend0 = proc_cpu(point.backend_pid)
    if profile is not None:  # no query capture: the profile shows the cycle alone
        cpu0, t0 = time.process_time(), time.perf_counter()
        profile.enable()
        run_cycle(now)
        profile.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        point.now = now
        return Cycle(wall, cpu, proc_cpu(point.backend_pid) - backend0, 0, 0.0, {}, reread, expired)
    busy0 = machine_busy()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timed), phase_timers() as phases, \
            gc_timer() as collector:
        cpu0, t0 = time.process_time(), time.perf_counter()
        run_cycle(now)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    backend_cpu = proc_cpu(point.backend_pid) - backend0
    others = max(0.0, machine_busy() - busy0 - cpu - backend_cpu) / wall
    point.now = now
    by_kind: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for query in captured.captured_queries:
        entry = by_kind[query_kind(query["sql"])]
        entry[0] += 1
        entry[1] += 0.0 if query_kind(query["sql"]) in precise else float(query["time"])
    for kind, seconds in precise.items():
        by_kind[kind][1] += seconds
    steps = dict(phases.seconds)
    steps["other (Slo list, watermark, transaction)"] = wall - sum(v for k, v in steps.items() if k[0] != " ")
    return Cycle(wall, cpu, backend_cpu, len(captured.captured_queries), sum(v[1] for v in by_kind.values()),
                 dict(by_kind), reread, expired, steps, others, sum(collector.seconds), collector.count[2])


CHURNED = "slos_windowstate, slos_slostatus, ops_heartbeat"  # rewritten by every cycle


def vacuum_churned(point: Point) -> None:
    """Stand-in for autovacuum (off on some benchmark servers): the tables every cycle rewrites, outside timing."""
    from django.db import connection

    use(point)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {CHURNED}")


def verify(point: Point, samples: int = 4) -> str:
    """Compare the slid WindowState of a few pairs with a full recompute (evaluate._rebuild)."""
    from observatory.slos import evaluate
    from observatory.slos.models import Slo, WindowState

    use(point)
    as_of = point.now.replace(second=0, microsecond=0)
    states = list(WindowState.objects.order_by("slo_id", "region_id"))
    stale = sum(1 for s in states if s.as_of != as_of)
    step = max(1, len(states) // samples)
    mismatches = []
    for state in states[::step][:samples]:
        rebuilt = evaluate._rebuild(Slo.objects.get(pk=state.slo_id), state.region_id, as_of)
        for window, counts in rebuilt.items():
            good, total = state.sums[evaluate._key(window)]
            if abs(good - counts.good) > 1e-6 or abs(total - counts.total) > 1e-6:
                mismatches.append(f"slo {state.slo_id} region {state.region_id} window {evaluate._key(window)}:"
                                  f" state {good}/{total}, rebuilt {counts.good}/{counts.total}")
    expected = point.slos * point.regions
    if mismatches or stale or len(states) != expected:
        return (f"FAILED ({len(states)} states, expected {expected}; {stale} not as of {as_of:%H:%M}; "
                + "; ".join(mismatches[:3]) + ")")
    return f"ok ({len(states)} states as of {as_of:%Y-%m-%d %H:%M}, {min(samples, len(states))} pairs x 8 windows" \
           " equal a full recompute)"


# --------------------------------------------------------------------------- report


def stats(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def median_cycle_by_kind(point: Point) -> dict[str, tuple[float, float]]:
    kinds = {k for c in point.cycles for k in c.by_kind}
    return {k: (statistics.median(c.by_kind.get(k, (0, 0.0))[0] for c in point.cycles),
                statistics.median(c.by_kind.get(k, (0, 0.0))[1] for c in point.cycles)) for k in kinds}


def report(points: list[Point], args) -> None:
    print()
    print(f"== SLO cycle: {points[0].slos} SLOs x {points[0].regions} regions (span source), {args.cycles} measured"
          f" cycles per history length, interleaved; rollup rows rolled_at = now - {args.roll_lag:g} s")
    print(f"{'history':>8} {'SLOs':>5} {'SliMinute rows':>15} {'min s':>7} {'median s':>9} {'max s':>7}"
          f" {'py CPU s':>9} {'pg CPU s':>9} {'SQL s':>7} {'queries':>8} {'re-read':>8} {'expired':>8}"
          f" {'others':>7} {'GC s':>6} {'full GCs':>9}")
    medians, cpu_medians = {}, {}
    for p in points:
        walls = [c.wall for c in p.cycles]
        lo, med, hi = stats(walls)
        medians[p.days] = med
        cpu_medians[p.days] = statistics.median(c.cpu + c.backend_cpu for c in p.cycles)
        queries = sorted({c.queries for c in p.cycles})
        print(f"{p.label:>8} {p.slos:>5} {p.rows:>15,} {lo:>7.3f} {med:>9.3f} {hi:>7.3f}"
              f" {statistics.median(c.cpu for c in p.cycles):>9.3f}"
              f" {statistics.median(c.backend_cpu for c in p.cycles):>9.3f}"
              f" {statistics.median(c.query_seconds for c in p.cycles):>7.3f}"
              f" {'/'.join(map(str, queries)):>8} {statistics.median(c.reread for c in p.cycles):>8.0f}"
              f" {statistics.median(c.expired for c in p.cycles):>8.0f}"
              f" {statistics.median(c.others for c in p.cycles):>7.2f}"
              f" {statistics.median(c.gc_seconds for c in p.cycles):>6.3f}"
              f" {sum(c.full_collections for c in p.cycles) / len(p.cycles):>9.1f}")
    print("  (medians per cycle; py CPU: this process; pg CPU: its PostgreSQL backend; SQL s: time inside"
          " cursor.execute, incl. psycopg's client-side parameter quoting; re-read: rollup rows the cycle reads;"
          " expired: SliMinute rows leaving a window; others: CPU cores the rest of the machine kept busy meanwhile,"
          f" of {os.cpu_count()}: wall time inflates when that is high; GC s: in Python's garbage collector (part of"
          " py CPU); full GCs: generation-2 collections per cycle, on average)")
    print()
    print("median time per cycle by query kind (count x ms):")
    per_kind = {p.days: median_cycle_by_kind(p) for p in points}
    kinds = sorted({k for d in per_kind.values() for k in d}, key=lambda k: -max(d.get(k, (0, 0))[1]
                                                                                   for d in per_kind.values()))
    print(f"  {'query':<42}" + "".join(f"{p.label:>16}" for p in points))
    for kind in kinds:
        cells = []
        for p in points:
            count, seconds = per_kind[p.days].get(kind, (0, 0.0))
            cells.append(f"{count:g} x {seconds * 1000:8.1f}")
        print(f"  {kind:<42}" + "".join(f"{c:>16}" for c in cells))
    print()
    print("median time per cycle by step of run_cycle (ms; indented: part of the line above it):")
    order = ["_store_minutes (incl. count_changed, SliMinute writes)", "  sli.count_changed (rollups -> SLI counts)",
             "  bulk_create SliMinute", "  bulk_update SliMinute", "_slide_windows (incl. _expired, WindowState writes)",
             "  _expired (8 SUM queries over SliMinute)", "  bulk_update WindowState", "  bulk_create WindowState",
             "_record (evaluate, Evaluation + SloStatus writes)", "  bulk_create Evaluation",
             "  bulk_create SloStatus", "other (Slo list, watermark, transaction)"]
    seen = {k for p in points for c in p.cycles for k in c.steps}
    print(f"  {'step':<56}" + "".join(f"{p.label:>9}" for p in points))
    for step in [k for k in order if k in seen] + sorted(seen - set(order)):
        print(f"  {step:<56}" + "".join(
            f"{statistics.median(c.steps.get(step, 0.0) for c in p.cycles) * 1000:>9.1f}" for p in points))
    print()
    worst = max(c.wall for p in points for c in p.cycles)
    longest = max(points, key=lambda p: p.days)
    ratio = max(medians.values()) / min(medians.values())
    print("goals:")
    full = longest.slos == args.slos
    over = sum(1 for c in longest.cycles if c.wall >= GOAL_SECONDS)
    print(f"  one cycle, {longest.slos} SLOs x {longest.regions} regions over {longest.days} days:"
          f" median {medians[longest.days]:.3f} s, max {max(c.wall for c in longest.cycles):.3f} s"
          f"  (goal < {GOAL_SECONDS:g} s: {'met' if medians[longest.days] < GOAL_SECONDS else 'MISSED'} by the median;"
          f" {over} of {len(longest.cycles)} cycles at or over it; all history lengths: max {worst:.3f} s)"
          + ("" if full else f"  [REDUCED: {longest.slos} SLOs instead of {args.slos}]"))
    print(f"  cost with " + ", ".join(f"{p.days}" for p in points) + " days of history: median "
          + " / ".join(f"{medians[p.days]:.3f}" for p in points) + f" s, max/min {ratio:.2f}x"
          f"  (goal <= {GOAL_RATIO:g}x: {'met' if ratio <= GOAL_RATIO else 'MISSED'})")
    cpu_ratio = max(cpu_medians.values()) / min(cpu_medians.values())
    print(f"  same by CPU (this process + PostgreSQL backend, less sensitive to neighbours): "
          + " / ".join(f"{cpu_medians[p.days]:.3f}" for p in points) + f" s, max/min {cpu_ratio:.2f}x")
    if any(p.slos != args.slos for p in points):
        print("  NOTE: some history lengths ran with fewer SLOs (seed budget); their cycle costs are not comparable")


def print_profile(profile: cProfile.Profile, title: str, limit: int) -> None:
    out = io.StringIO()
    stats_ = pstats.Stats(profile, stream=out)
    stats_.strip_dirs().sort_stats("cumulative").print_stats(limit)
    print(f"\n--- cProfile {title}: by cumulative time ---")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime").print_stats(limit)
    print(f"\n--- cProfile {title}: by own time ---")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", default="1,7,30", help="history lengths in days (default 1,7,30)")
    parser.add_argument("--slos", type=int, default=100, help="SLOs, one per service (default 100)")
    parser.add_argument("--regions", type=int, default=10, help="regions (default 10)")
    parser.add_argument("--cycles", type=int, default=10, help="measured cycles per history length (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured cycles per history length (default 2)")
    parser.add_argument("--roll-lag", type=float, default=0.0,
                        help="new rollup rows get rolled_at = now - this many seconds (default 0; 30..89: the"
                             " 30 s OVERLAP no longer re-reads the previous minute)")
    parser.add_argument("--span-history", action="store_true",
                        help="also seed H days of past SpanMinute rows (rolled long before the watermark)")
    parser.add_argument("--evaluation-history", action="store_true",
                        help="also seed H days of the Evaluation rows past cycles appended (small JSON); with"
                             " --reuse, adds them to kept databases")
    parser.add_argument("--rebuild-by-cycle", action="store_true",
                        help="no seeded WindowState: the first cycle builds it (one query per pair and window)")
    parser.add_argument("--seed-budget", type=float, default=1800.0,
                        help="seconds the longest history's seed may take by the 1-day estimate; beyond it the"
                             " longer histories get fewer SLOs (default 1800)")
    parser.add_argument("--vacuum", choices=("auto", "on", "off"), default="auto",
                        help=f"VACUUM {CHURNED} after every round (outside the timing); auto: only when the"
                             " server's autovacuum is off, which would otherwise let them bloat (default auto)")
    parser.add_argument("--verbose", action="store_true", help="print every measured cycle's step times")
    parser.add_argument("--profile", action="store_true", help="one more cycle per history length under cProfile")
    parser.add_argument("--profile-lines", type=int, default=30)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/observatory_slobench",
                        help="base of the benchmark databases (<name>_<H>d); dropped and recreated (loopback only)")
    parser.add_argument("--keep", action="store_true", help="do not drop the databases at the end")
    parser.add_argument("--reuse", action="store_true",
                        help="continue on databases kept by an earlier --keep run when H, SLOs and regions match")
    args = parser.parse_args(argv)
    try:
        args.day_list = sorted({int(d) for d in args.days.split(",") if d.strip()})
    except ValueError:
        parser.error("--days: comma-separated whole days")
    if not args.day_list or min(args.day_list) < 1 or max(args.day_list) > 60:
        parser.error("--days: 1..60")
    if not (1 <= args.slos <= 1000 and 1 <= args.regions <= 50 and 1 <= args.cycles <= 200
            and 0 <= args.warmup <= 50):
        parser.error("--slos 1..1000, --regions 1..50, --cycles 1..200, --warmup 0..50")
    if not 0 <= args.roll_lag < 90:
        parser.error("--roll-lag 0..89 seconds")
    loopback_only(args.database_url)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)

    def terminated(signum, frame):
        raise Stop(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    tmp = Path(tempfile.mkdtemp(prefix="observatory-slobench-"))
    base = db_name(args.database_url)
    points = [Point(d, with_name(args.database_url, f"{base}_{d}d"), args.slos, args.regions) for d in args.day_list]
    created: list[Point] = []
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY_FILE", "DATABASE_URL_FILE")}
    env.update(DJANGO_SETTINGS_MODULE="observatory.settings", SECRET_KEY=secrets.token_urlsafe(40), DEBUG="false",
               OBSERVATORY_VAR_DIR=str(tmp / "var"), CELERY_BROKER_URL="filesystem://", PYTHONPATH=str(ROOT))

    def progress(message: str) -> None:
        print(message, flush=True)

    try:
        django_setup(points[0].url, tmp)
        as_of = datetime.now(dt_timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=1)
        template = None
        per_day = None  # seed seconds per day of history at args.slos SLOs, from the first fresh seed
        for point in points:
            if args.reuse and database_exists(point.url):
                meta = read_meta(point)
                if meta and tuple(meta[:3]) == (point.days, point.slos, point.regions):
                    point.reused, point.seed_seconds, point.now = True, meta[3], meta[5]
                    point.evaluation_history = bool(meta[4])
                    print(f"{point.label}: reusing {db_name(point.url)} ({point.rows:,} SliMinute rows, seeded in"
                          f" {meta[3]:.0f} s; simulated clock at {point.now:%Y-%m-%d %H:%M:%S})", flush=True)
                    continue
                if meta and meta[0] == point.days and meta[2] == point.regions and meta[1] < point.slos:
                    point.slos = meta[1]  # an earlier budget-reduced seed
                    point.reused, point.seed_seconds, point.now = True, meta[3], meta[5]
                    point.evaluation_history = bool(meta[4])
                    print(f"{point.label}: reusing {db_name(point.url)} with REDUCED {point.slos} SLOs", flush=True)
                    continue
            if per_day is not None:
                estimate = per_day * point.days
                print(f"{point.label}: estimated seed time {estimate:.0f} s ({point.rows:,} SliMinute rows,"
                      f" from {per_day:.1f} s per day of history)", flush=True)
                if estimate > args.seed_budget:
                    point.slos = max(1, int(args.slos * args.seed_budget / estimate))
                    print(f"{point.label}: over --seed-budget {args.seed_budget:.0f} s: REDUCED to {point.slos} SLOs"
                          f" ({point.rows:,} rows, same {point.minutes:,} minutes per SLO x region)", flush=True)
            print(f"{point.label}: creating {db_name(point.url)}" + (f" from template {template}" if template else
                                                                     ", migrate"), flush=True)
            if template is None:
                create_database(point.url)
                manage({**env, "DATABASE_URL": point.url}, "migrate", "--noinput", "-v0")
                # an empty migrated copy to clone the others from
                template = f"{base}_template"
                create_database(with_name(args.database_url, template), template=db_name(point.url))
            else:
                create_database(point.url, template=template)
            created.append(point)
            seed(point, as_of, args, progress)
            phases = ", ".join(f"{k} {v:.0f} s" for k, v in point.seed_phases.items())
            print(f"{point.label}: seeded {point.rows:,} SliMinute rows in {point.seed_seconds:.0f} s ({phases})",
                  flush=True)
            if per_day is None and not point.reused:
                per_day = point.seed_seconds / point.days * args.slos / point.slos
                for later in points[points.index(point) + 1:]:
                    print(f"  estimate for {later.label}: {per_day * later.days:.0f} s"
                          f" ({later.days * MINUTES_PER_DAY * args.slos * args.regions:,} rows)", flush=True)
        if template:
            drop_database(with_name(args.database_url, template))
        if args.evaluation_history:
            for point in points:
                if not point.evaluation_history:
                    seconds = seed_evaluations(point, progress)
                    point.evaluation_history = True
                    print(f"{point.label}: seeded {point.minutes * point.slos * (point.regions + 1):,} Evaluation"
                          f" history rows in {seconds:.0f} s", flush=True)

        roll_lag = timedelta(seconds=args.roll_lag)
        with psycopg.connect(points[0].url, autocommit=True) as conn:
            autovacuum = conn.execute("SHOW autovacuum").fetchone()[0]
        vacuum = args.vacuum == "on" or (args.vacuum == "auto" and autovacuum != "on")
        print(f"server autovacuum={autovacuum}: " + (f"VACUUM {CHURNED} after every round, outside the timing"
                                                    if vacuum else "no VACUUM between rounds"), flush=True)
        for point in points:
            point.wrapper = make_wrapper(point.url)
            use(point)
            if vacuum:
                vacuum_churned(point)
            with psycopg.connect(point.url, autocommit=True) as conn:
                size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database())),"
                                    " (SELECT correlation FROM pg_stats WHERE tablename = 'slos_sliminute'"
                                    " AND attname = 'minute'), (SELECT CASE WHEN reltuples < 1e6 THEN"
                                    " (SELECT count(*) FROM slos_evaluation) ELSE reltuples::bigint END"
                                    " FROM pg_class WHERE relname = 'slos_evaluation')").fetchone()
            print(f"{point.label}: database {size[0]}, SliMinute minute/heap correlation {size[1]},"
                  f" ~{max(size[2], 0):,} Evaluation rows", flush=True)
            for i in range(args.warmup):
                cycle = run_one(point, roll_lag)
                if i == 0 and args.rebuild_by_cycle and not point.reused:
                    point.first_cycle = cycle.wall
                print(f"{point.label}: warm-up cycle {i + 1}/{args.warmup}: {cycle.wall:.3f} s, {cycle.queries}"
                      " queries", flush=True)
        for round_no in range(args.cycles):
            order = points[round_no % len(points):] + points[:round_no % len(points)]
            line = []
            for point in order:
                cycle = run_one(point, roll_lag)
                point.cycles.append(cycle)
                line.append(f"{point.label} {cycle.wall:.3f} s")
            print(f"round {round_no + 1}/{args.cycles}: " + ", ".join(line), flush=True)
            if args.verbose:
                for point in order:
                    c = point.cycles[-1]
                    print(f"    {point.label}: wall {c.wall * 1000:.0f} ms, py CPU {c.cpu * 1000:.0f}, pg CPU"
                          f" {c.backend_cpu * 1000:.0f}, SQL {c.query_seconds * 1000:.0f}; " + ", ".join(
                              f"{k.split('(')[0].strip()} {v * 1000:.0f}" for k, v in c.steps.items()))
            if vacuum:
                for point in points:
                    vacuum_churned(point)
        for point in points:
            print(f"{point.label}: windows check {verify(point)}", flush=True)
        if args.rebuild_by_cycle:
            for point in points:
                if point.first_cycle is not None:
                    print(f"{point.label}: first cycle (builds every WindowState) {point.first_cycle:.1f} s")
        for point in points:
            if point.reused:
                print(f"{point.label}: seed time from the earlier run: {point.seed_seconds:.0f} s")
        report(points, args)
        if args.profile:
            for point in points:
                profile = cProfile.Profile()
                cycle = run_one(point, roll_lag, profile)
                print_profile(profile, f"{point.label} ({cycle.wall:.3f} s wall, {cycle.cpu:.3f} s CPU here,"
                                       f" {cycle.backend_cpu:.3f} s PostgreSQL CPU)",
                              args.profile_lines)
        return 0
    except (KeyboardInterrupt, Stop) as exc:
        print(f"interrupted ({exc or 'Ctrl-C'}); cleaning up", file=sys.stderr)
        return 130
    finally:
        try:
            from django.db import connections

            for point in points:
                if point.wrapper is not None:
                    point.wrapper.close()
            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up
            pass
        try:
            drop_database(with_name(args.database_url, f"{base}_template"))
            if not args.keep:
                for point in points:
                    drop_database(point.url)
        except psycopg.Error as exc:
            print(f"could not drop the benchmark databases: {exc}", file=sys.stderr)
        if args.keep:
            print("kept: " + ", ".join(db_name(p.url) for p in points) + " (rerun with --reuse)")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
