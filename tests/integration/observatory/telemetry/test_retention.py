from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from observatory.telemetry import partitions, retention
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
