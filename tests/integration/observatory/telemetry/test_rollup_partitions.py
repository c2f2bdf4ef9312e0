"""Rollups written for a day or month that has no partition yet (back-fills, late data) still land."""

from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from collectors.otlp.flatten import MetricRows, Series, SpanRows
from observatory.regions.models import Region
from observatory.slos import evaluate
from observatory.slos.models import SliMinute, Slo
from observatory.telemetry import downsample, ingest, rollup_partitions
from observatory.telemetry.models import SeriesHour, SeriesMinute, SpanHour, SpanMinute
from observatory.telemetry.rollups import roll_up_pending

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)


def exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def attached(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass", [table])
        return {row[0] for row in cursor.fetchall()}


def drop(table: str, at: datetime) -> str:
    """Remove the partition holding ``at``, as if nothing had ever made it (nor this process seen it)."""
    period = rollup_partitions.ROLLUP_TABLES[table][1]
    name = rollup_partitions.partition_name(table, rollup_partitions.period_start(at, period))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
    rollup_partitions.forget(table)
    assert not exists(name)
    return name


@pytest.fixture
def region(transactional_db):
    return Region.objects.create(name="us-east-1")


def test_the_rollup_job_makes_the_partitions_of_back_filled_days(region):
    back_filled = NOW - timedelta(days=5, hours=3)
    span_partition = drop("telemetry_span_minute", back_filled)
    series_partition = drop("telemetry_series_minute", back_filled)
    spans = SpanRows(region_ids={region.id})
    spans.spans.append((region.id, b"t" * 16, b"s" * 8, None, "checkout", "GET /", 2, 0, "", back_filled + timedelta(
        seconds=3), 12.0, None, None, {}))
    ingest.write_spans(spans)
    metrics = MetricRows(region_ids={region.id})
    metrics.series[7] = Series(7, region.id, "queue.depth", 1, "", 0, False, "checkout", {}, {})
    metrics.points.append((7, back_filled + timedelta(seconds=4), None, 42.0))
    ingest.write_metrics(metrics)

    assert roll_up_pending() == 2
    assert span_partition in attached("telemetry_span_minute")
    assert series_partition in attached("telemetry_series_minute")
    assert SpanMinute.objects.get().minute == back_filled
    assert SeriesMinute.objects.get().last == 42.0


def test_the_hourly_job_makes_the_month_it_writes(region):
    month_ago = (NOW - timedelta(days=45)).replace(minute=0)
    span_partition = drop("telemetry_span_hour", month_ago)
    series_partition = drop("telemetry_series_hour", month_ago)
    SpanMinute.objects.create(region=region, service="checkout", operation="GET /", minute=month_ago, requests=3,
                              errors=1, duration_sum_ms=30.0, latency_buckets=[3])
    SeriesMinute.objects.create(series_id=7, minute=month_ago, samples=2, minimum=1, maximum=4, total=5, last=4)

    assert downsample.downsample() == 2
    assert span_partition in attached("telemetry_span_hour")
    assert series_partition in attached("telemetry_series_hour")
    assert (SpanHour.objects.get(hour=month_ago).requests, SeriesHour.objects.get(hour=month_ago).maximum) == (3, 4)


def test_orm_writes_make_their_partitions_even_for_a_day_just_dropped(region, settings):
    """save(), create() and bulk_create() on any day or month: tests and back-fills do this."""
    days_ago = [NOW - timedelta(days=d) for d in (9, 10, 11)]
    for at in days_ago:
        drop("slos_sliminute", at)
    slo = Slo.objects.create(name="checkout-availability", service="checkout", objective=0.99, kind="availability")
    SliMinute.objects.bulk_create([SliMinute(slo=slo, region=region, minute=at, good=9, total=10) for at in days_ago])
    old = NOW - timedelta(days=800)
    SeriesHour.objects.create(series_id=1, hour=old.replace(minute=0), samples=1, minimum=1, maximum=1, total=1,
                              last=1)
    assert SliMinute.objects.count() == 3 and SeriesHour.objects.count() == 1

    # The process remembers partitions it made; when one is dropped under it, the next write makes it again.
    settings.HOURLY_RETENTION_DAYS = 400
    from observatory.telemetry import retention

    dropped = retention.maintain()["dropped_partitions"]
    assert rollup_partitions.partition_name("telemetry_series_hour", old.date().replace(day=1)) in dropped
    SeriesHour.objects.create(series_id=1, hour=old.replace(minute=0), samples=1, minimum=1, maximum=1, total=1,
                              last=1)
    assert SeriesHour.objects.count() == 1


def test_a_first_slo_cycle_writes_sli_minutes_days_back(region):
    """The first cycle looks back the whole SLO window; its minutes' days need partitions."""
    slo = Slo.objects.create(name="checkout-availability", service="checkout", objective=0.99, kind="availability",
                             min_events=1)
    days_back = NOW - timedelta(days=12)
    drop("slos_sliminute", days_back)
    SpanMinute.objects.create(region=region, service="checkout", operation="GET /", minute=days_back, requests=10,
                              errors=1, duration_sum_ms=30.0, latency_buckets=[10])
    evaluate.run_cycle()
    [sli] = SliMinute.objects.filter(slo=slo)
    assert (sli.minute, sli.good, sli.total) == (days_back, 9, 10)


def test_a_partition_dropped_by_another_process_is_made_again_by_the_next_attempt(region):
    from django.db import IntegrityError

    at = NOW - timedelta(days=20)
    SeriesMinute.objects.create(series_id=1, minute=at, samples=1, minimum=1, maximum=1, total=1, last=1)
    assert ("telemetry_series_minute", at.date()) in rollup_partitions._known  # remembered once committed
    with connection.cursor() as cursor:  # dropped elsewhere: this process still believes in it
        cursor.execute(f"DROP TABLE {rollup_partitions.partition_name('telemetry_series_minute', at.date())}")
    row = SeriesMinute(series_id=1, minute=at, samples=2, minimum=1, maximum=1, total=1, last=1)
    with pytest.raises(IntegrityError):  # loud, never lost silently
        SeriesMinute.objects.bulk_create([row])
    SeriesMinute.objects.bulk_create([row])  # the next attempt makes the partition
    assert SeriesMinute.objects.get().samples == 2
