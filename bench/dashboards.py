"""Dashboard page times over a realistic history.

    .venv/bin/python bench/dashboards.py [--regions 10] [--services 50] [--days 7] [--requests 60]

Creates and migrates `observatory_dashbench` on PostgreSQL at 127.0.0.1:5432 (dropped at the end
unless --keep), seeds REGIONS x SERVICES x DAYS of minute RED rollups server-side (generate_series),
plus region health, lag signals, SLO statuses, alerts and anomalies, then renders each page in
process through the whole Django stack (middleware, auth, views, templates) and prints the server
time (p50/p95/max) and the queries per page next to the goals: global page p95 < 150 ms, region
page p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import create_database, drop_database, manage  # noqa: E402

GOALS_MS = {"global": 150.0, "region": 200.0}


def seed(regions: int, services: int, days: int) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from observatory.alerting.models import Alert
    from observatory.analytics.alerts import fingerprint
    from observatory.detection.models import Anomaly
    from observatory.failover.models import FailoverPolicy, GroupState, RegionHealth
    from observatory.regions.models import Region
    from observatory.slos.models import Slo, SloStatus
    from observatory.telemetry import rollup_partitions
    from observatory.telemetry.models import RegionSignal

    now = timezone.now()
    names = [f"region-{i:02d}" for i in range(regions)]
    made = [Region.objects.create(name=n, group="storefront", role="primary" if i == 0 else "standby",
                                  rpo_seconds=30, last_seen_at=now) for i, n in enumerate(names)]
    for i, region in enumerate(made):
        RegionHealth.objects.create(region=region, state="unhealthy" if i == 1 else "healthy",
                                    kinds=["probe", "partition"] if i == 1 else [])
        if i:
            RegionSignal.objects.create(region=region, signal="observatory.replication.lag", key=names[0],
                                        value=5.0 * i, observed_at=now)
    FailoverPolicy.objects.create(group="storefront", mode="approve")
    GroupState.objects.create(group="storefront", active_region=made[0])
    for s in range(services):
        slo = Slo.objects.create(name=f"svc-{s:02d}-availability", service=f"svc-{s:02d}", objective=0.999,
                                 kind="availability")
        for region in [None, *made]:
            SloStatus.objects.create(slo=slo, region=region, evaluated_at=now, as_of=now, tiers=[],
                                     burn_rates={"3600": 0.5, "300": 0.4}, budget_remaining=0.8, events=1e6)
        labels = {"alertname": "Anomaly", "severity": "ticket", "region": names[s % regions],
                  "service": f"svc-{s:02d}"}
        Alert.objects.create(fingerprint=fingerprint(labels), labels=labels, state="firing", firing_since=now,
                             active_since=now, annotations={"summary": "anomaly"})
        Anomaly.objects.create(region=made[s % regions], series_key=f"red.error_ratio|service=svc-{s:02d}",
                               service=f"svc-{s:02d}", minute=now - timedelta(minutes=10), value=0.1, score=0.9,
                               model_version=1, explanation={"summary": "bench"})
    started = time.monotonic()
    rollup_partitions.ensure_range((now - timedelta(days=days)).date(), (now + timedelta(minutes=15)).date())
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO telemetry_span_minute (region_id, service, operation, minute, requests, errors,
                                               duration_sum_ms, latency_buckets, rolled_at)
            SELECT r.id, 'svc-' || lpad(s::text, 2, '0'), 'GET /', m, 600 + (random() * 100)::int,
                   (random() * 6)::int, 18000, '[0, 100, 300, 150, 40, 10, 0, 0, 0, 0, 0, 0]'::jsonb, now()
            FROM regions_region r, generate_series(0, %s - 1) s,
                 generate_series(date_trunc('minute', now()) - make_interval(days => %s),
                                 -- a quarter of an hour ahead, so "the last 5 minutes" stay full while it runs
                                 date_trunc('minute', now()) + interval '15 minutes', interval '1 minute') m""", [services, days])
        rows = cursor.rowcount
        cursor.execute("ANALYZE telemetry_span_minute")
    print(f"seeded {rows:,} span minute rows in {time.monotonic() - started:.0f} s", flush=True)


def measure(client, url: str, requests: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches and connections
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return times, len(queries)


def report(name: str, url: str, times: list[float], queries: int, goal: float | None) -> None:
    times = sorted(times)
    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
    verdict = "" if goal is None else f"  goal p95 < {goal:.0f} ms: {'met' if p95 < goal else 'MISSED'}"
    print(f"{name:<14} {url:<46} p50 {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms  "
          f"max {times[-1]:6.1f} ms  {queries:3d} queries{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    parser.add_argument("--database-url", default="postgres://postgres:postgres@127.0.0.1:5432/observatory_dashbench")
    parser.add_argument("--keep", action="store_true", help="keep the database (and skip seeding next time)")
    args = parser.parse_args()

    reuse = args.keep and _has_data(args.database_url)
    if not reuse:
        create_database(args.database_url)
    env = {**os.environ, "DATABASE_URL": args.database_url, "SECRET_KEY": "bench-only-" + "x" * 40,
           "DEBUG": "false", "CELERY_BROKER_URL": "memory://"}
    env.pop("SECRET_KEY_FILE", None)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "DEBUG", "CELERY_BROKER_URL")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observatory.settings")
    try:
        if not reuse:
            manage(env, "migrate", "--noinput", "-v0")
        manage(env, "collectstatic", "--noinput", "-v0")
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.test import Client

        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        if not reuse:
            seed(args.regions, args.services, args.days)
        user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
        client = Client()
        client.force_login(user)
        print(f"{args.regions} regions x {args.services} services x {args.days} days; {args.requests} requests "
              "per page, server time in process (full middleware and templates)")
        pages = [("global", "/", GOALS_MS["global"]),
                 ("region", "/regions/region-01/", GOALS_MS["region"]),
                 ("region 7d", "/regions/region-01/?range=7d", None),
                 ("alerts", "/alerts/", None), ("failover", "/failover/", None), ("slos", "/slos/", None)]
        for name, url, goal in pages:
            times, queries = measure(client, url, args.requests)
            report(name, url, times, queries, goal)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(args.database_url)


def _has_data(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM telemetry_span_minute)").fetchone()[0])
    except psycopg.Error:
        return False


if __name__ == "__main__":
    main()
