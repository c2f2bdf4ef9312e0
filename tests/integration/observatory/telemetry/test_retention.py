import textwrap
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from observatory.telemetry import partitions, retention, rollup_partitions
from observatory.telemetry.models import SeriesMinute


@pytest.mark.django_db(transaction=True)
def test_partitions_are_made_ahead_and_expired_ones_dropped_whole(settings):
    settings.RAW_RETENTION_DAYS = 7
    today = timezone.now().date()
    old_day = today - timedelta(days=9)
    partitions.ensure_partitions(old_day, old_day)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO telemetry_point (series_id, time, value) VALUES (1, %s, 1.0)",
                       [timezone.now() - timedelta(days=9)])
    result = retention.maintain()
    assert partitions.partition_name("telemetry_point", old_day) in result["dropped_partitions"]
    assert result["deleted_raw_rows"] == 0  # whole partitions went, no row deletes
    days = partitions.list_partitions()["telemetry_point"]
    assert old_day not in days
    for ahead in range(retention.DAYS_AHEAD + 1):
        assert today + timedelta(days=ahead) in days
    assert today - timedelta(days=2) in days  # the whole ingest window is covered
    assert set(partitions.list_partitions()) == set(partitions.RAW_TABLES)
    for table_days in partitions.list_partitions().values():
        assert min(table_days) >= today - timedelta(days=7)


@pytest.mark.django_db(transaction=True)
def test_minute_rollups_older_than_their_retention_are_deleted(settings):
    settings.ROLLUP_RETENTION_DAYS = 30
    now = timezone.now().replace(second=0, microsecond=0)
    for age in (31, 29):
        SeriesMinute.objects.create(series_id=1, minute=now - timedelta(days=age), samples=1, minimum=1, maximum=1,
                                    total=1, last=1)
    retention.maintain()
    assert [(now - m).days for m in SeriesMinute.objects.values_list("minute", flat=True)] == [29]


@pytest.mark.django_db(transaction=True)
def test_a_missing_partition_is_created_on_demand_by_ingest():
    """If the maintenance job has not run for days, ingest still lands (creating the day's partition)."""
    from collectors.otlp.flatten import MetricRows, Series
    from observatory.regions.models import Region
    from observatory.telemetry.ingest import write_metrics

    region = Region.objects.create(name="us-east-1")
    tomorrow = timezone.now() + timedelta(days=8)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name('telemetry_point', tomorrow.date())}")
    rows = MetricRows()
    rows.series[5] = Series(5, region.id, "x", 1, "", 0, False, "svc", {}, {})
    rows.points.append((5, tomorrow, None, 1.0))
    rows.region_ids.add(region.id)
    write_metrics(rows)
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM telemetry_point WHERE series_id = 5")
        assert cursor.fetchall() == [(1.0,)]


def attached(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
                       " WHERE pg_inherits.inhparent = %s::regclass", [table])
        return {row[0] for row in cursor.fetchall()}


def relation_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = %s)", [name])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_expired_rollup_partitions_are_dropped_whole_and_newer_ones_kept(settings):
    from observatory.regions.models import Region
    from observatory.slos.models import SliMinute, Slo
    from observatory.telemetry.models import SeriesHour, SpanHour, SpanMinute

    settings.ROLLUP_RETENTION_DAYS, settings.HOURLY_RETENTION_DAYS = 35, 400
    now = timezone.now().replace(second=0, microsecond=0)
    region = Region.objects.create(name="us-east-1")
    slo = Slo.objects.create(name="checkout-availability", service="checkout", objective=0.99, kind="availability")
    expired_minute, kept_minute = now - timedelta(days=37), now - timedelta(days=33)
    for minute in (expired_minute, kept_minute):
        SpanMinute.objects.create(region=region, service="checkout", operation="GET /", minute=minute, requests=1,
                                  errors=0, duration_sum_ms=1.0, latency_buckets=[1])
        SeriesMinute.objects.create(series_id=1, minute=minute, samples=1, minimum=1, maximum=1, total=1, last=1)
        SliMinute.objects.create(slo=slo, region=region, minute=minute, good=1, total=1)
    hourly_cutoff = now - timedelta(days=400)
    expired_hour = (now - timedelta(days=440)).replace(minute=0)
    # Older than the cutoff, but its month is not wholly past: it stays until the month is.
    cutoff_month_start = hourly_cutoff.replace(day=1, hour=0, minute=0)
    kept_hours = [cutoff_month_start, (now - timedelta(days=100)).replace(minute=0)]
    for hour in [expired_hour, *kept_hours]:
        SpanHour.objects.create(region=region, service="checkout", operation="GET /", hour=hour, requests=1,
                                errors=0, duration_sum_ms=1.0, latency_buckets=[1])
        SeriesHour.objects.create(series_id=1, hour=hour, samples=1, minimum=1, maximum=1, total=1, last=1)

    result = retention.maintain()

    gone = {table: rollup_partitions.partition_name(table, expired_minute.date())
            for table in rollup_partitions.MINUTE_TABLES}
    gone |= {table: rollup_partitions.partition_name(table, expired_hour.date().replace(day=1))
             for table in rollup_partitions.HOUR_TABLES}
    for table, name in gone.items():
        assert name in result["dropped_partitions"]
        assert name not in attached(table) and not relation_exists(name)
    assert result["deleted_rollups"] == 0  # whole partitions went, no row deletes
    assert [m.date() for m in SpanMinute.objects.values_list("minute", flat=True)] == [kept_minute.date()]
    assert list(SeriesMinute.objects.values_list("minute", flat=True)) == [kept_minute]
    assert list(SliMinute.objects.values_list("minute", flat=True)) == [kept_minute]
    assert sorted(SpanHour.objects.values_list("hour", flat=True)) == kept_hours
    assert sorted(SeriesHour.objects.values_list("hour", flat=True)) == kept_hours
    # Nothing that is kept lost its partition, and partitions are made ahead for every table.
    cutoffs = {"day": (now - timedelta(days=35)).date(), "month": hourly_cutoff.date()}
    today = now.date()
    for table, starts in rollup_partitions.list_partitions().items():
        period = rollup_partitions.ROLLUP_TABLES[table][1]
        assert all(rollup_partitions.period_end(start, period) > cutoffs[period] for start in starts)
        for ahead in range(retention.DAYS_AHEAD + 1):
            assert rollup_partitions.period_start(today + timedelta(days=ahead), period) in starts
    assert retention.maintain()["dropped_partitions"] == []  # the next run finds nothing more to drop


def test_sqlite_has_plain_rollup_tables_and_deletes_expired_rows(tmp_path):
    from tests.conftest import run_manage

    url = f"sqlite:///{tmp_path / 'obs.sqlite3'}"
    migrated = run_manage("migrate", "-v", "0", DATABASE_URL=url)
    assert migrated.returncode == 0, migrated.stderr
    script = textwrap.dedent("""
        from datetime import timedelta
        from django.utils import timezone
        from observatory.telemetry import retention
        from observatory.telemetry.models import SeriesHour, SeriesMinute
        now = timezone.now()
        for age in (36, 34):
            SeriesMinute.objects.create(series_id=1, minute=now - timedelta(days=age), samples=1, minimum=1,
                                        maximum=1, total=1, last=1)
        for age in (401, 399):
            SeriesHour.objects.create(series_id=1, hour=now - timedelta(days=age), samples=1, minimum=1, maximum=1,
                                      total=1, last=1)
        result = retention.maintain()
        print(result["dropped_partitions"], result["deleted_rollups"])
        print(sorted((now - m).days for m in SeriesMinute.objects.values_list("minute", flat=True)))
        print(sorted((now - h).days for h in SeriesHour.objects.values_list("hour", flat=True)))
    """)
    result = run_manage("shell", "-v", "0", "-c", script, DATABASE_URL=url, ROLLUP_RETENTION_DAYS="35",
                        HOURLY_RETENTION_DAYS="400")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[] 2", "[34]", "[399]"]  # exact row cutoffs: no partitions here
