"""The migrations that partition the rollup tables keep every row, both ways, and leave them working."""

from datetime import datetime, timedelta, timezone

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from observatory.regions.models import Region
from observatory.slos.models import SliMinute, Slo
from observatory.telemetry import rollup_partitions
from observatory.telemetry.models import SeriesHour, SeriesMinute, SpanHour, SpanMinute

BEFORE = [("telemetry", "0004_hourly_rollups"), ("slos", "0001_initial")]
NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)
MINUTE_AGES = [timedelta(days=40), timedelta(days=3, minutes=7), timedelta(hours=5), timedelta(0)]
HOUR_AGES = [timedelta(days=420), timedelta(days=95), timedelta(hours=2)]


def migrate(targets=None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def table_kind(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
        return cursor.fetchone()[0]


def snapshot() -> dict:
    """Every rollup table's rows, whole, by id."""
    found = {}
    with connection.cursor() as cursor:
        for table in rollup_partitions.ROLLUP_TABLES:
            cursor.execute(f"SELECT * FROM {table} ORDER BY id")
            found[table] = cursor.fetchall()
    return found


def insert_rows(region, slo, service: str, series_id: int) -> None:
    """Rows at many ages, straight in SQL (the tables may be plain or partitioned)."""
    if table_kind("telemetry_span_minute") == "p":  # plain SQL writes find their partitions made, or fail
        for table, (_column, period) in rollup_partitions.ROLLUP_TABLES.items():
            ages = MINUTE_AGES if period == rollup_partitions.DAY else HOUR_AGES
            rollup_partitions.ensure_for_times(table, [NOW - age for age in ages])
    with connection.cursor() as cursor:
        for age in MINUTE_AGES:
            minute = NOW - age
            cursor.execute("INSERT INTO telemetry_span_minute (region_id, service, operation, minute, requests, errors,"
                           " duration_sum_ms, latency_buckets, rolled_at) VALUES (%s, %s, 'GET /', %s, 10, 1, 2.5,"
                           " '[1, 2]', %s)", [region.id, service, minute, NOW])
            cursor.execute("INSERT INTO telemetry_series_minute (series_id, minute, samples, minimum, maximum, total,"
                           " last, increase, rolled_at) VALUES (%s, %s, 3, 1, 5, 9, 5, NULL, %s)",
                           [series_id, minute, NOW])
            cursor.execute("INSERT INTO slos_sliminute (slo_id, region_id, minute, good, total)"
                           " VALUES (%s, %s, %s, 99, 100)", [slo.id, region.id, minute])
        for age in HOUR_AGES:
            hour = (NOW - age).replace(minute=0)
            cursor.execute("INSERT INTO telemetry_span_hour (region_id, service, operation, hour, requests, errors,"
                           " duration_sum_ms, latency_buckets) VALUES (%s, %s, 'GET /', %s, 600, 6, 150.0, '[3]')",
                           [region.id, service, hour])
            cursor.execute("INSERT INTO telemetry_series_hour (series_id, hour, samples, minimum, maximum, total, last,"
                           " increase) VALUES (%s, %s, 60, 0, 7, 120, 2, 4.5)", [series_id, hour])


@pytest.mark.django_db(transaction=True)
def test_migrating_back_and_forth_keeps_every_rollup_row():
    region = Region.objects.create(name="us-east-1")
    slo, other_slo = (Slo.objects.create(name=f"{name}-availability", service=name, objective=0.99,
                                         kind="availability") for name in ("checkout", "search"))
    insert_rows(region, slo, "partitioned-first", series_id=1)
    try:
        migrate(BEFORE)
        assert {table_kind(t) for t in rollup_partitions.ROLLUP_TABLES} == {"r"}  # plain again, rows kept
        assert [len(rows) for rows in snapshot().values()] == [4, 4, 4, 3, 3]
        insert_rows(region, other_slo, "plain", series_id=2)  # rows of a system that never had partitions
        before = snapshot()
    finally:
        migrate()
    assert {table_kind(t) for t in rollup_partitions.ROLLUP_TABLES} == {"p"}
    assert snapshot() == before  # every row, every column, the same ids
    assert [len(rows) for rows in before.values()] == [8, 8, 8, 6, 6]
    assert rollup_partitions.period_start(NOW - timedelta(days=40), "day") in (
        rollup_partitions.list_partitions()["telemetry_span_minute"])
    assert rollup_partitions.period_start(NOW - timedelta(days=420), "month") in (
        rollup_partitions.list_partitions()["telemetry_series_hour"])

    # New rows continue the ids; the unique constraints hold; upserts and RETURNING work.
    last_id = max(row[0] for row in before["telemetry_span_minute"])
    row = SpanMinute.objects.create(region=region, service="new", operation="GET /", minute=NOW, requests=1,
                                    errors=0, duration_sum_ms=1.0, latency_buckets=[1])
    assert row.id > last_id
    with pytest.raises(IntegrityError), transaction.atomic():
        SeriesMinute.objects.create(series_id=2, minute=NOW, samples=1, minimum=1, maximum=1,
                                    total=1, last=1)
    upserted = SpanHour.objects.bulk_create(
        [SpanHour(region=region, service="plain", operation="GET /", hour=(NOW - age).replace(minute=0), requests=1,
                  errors=0, duration_sum_ms=1.0, latency_buckets=[1]) for age in HOUR_AGES],
        update_conflicts=True, unique_fields=["region", "service", "operation", "hour"], update_fields=["requests"])
    assert sorted(h.id for h in upserted) == sorted(r[0] for r in before["telemetry_span_hour"]
                                                    if r[1] == "plain")
    assert SpanHour.objects.filter(service="plain", requests=1).count() == 3
    assert SeriesHour.objects.count() == 6
    slo.delete()  # the cascade reaches the partitioned SLI minutes
    assert list(SliMinute.objects.values_list("slo", flat=True).distinct()) == [other_slo.id]
    assert SliMinute.objects.count() == 4
