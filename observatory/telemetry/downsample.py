"""Hourly rollups from the minute rollups, for the hours whose minutes changed since the last run.

A run finds the series (and regions' spans) whose minute rollups were (re)computed since its
watermark and recomputes their hours from (at most 60) minute rows each, so its cost follows new data, and an hour still
in progress is simply recomputed as its minutes arrive. Hourly rows outlive the minute rows
(HOURLY_RETENTION_DAYS against ROLLUP_RETENTION_DAYS).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from observatory.ops.models import Heartbeat
from observatory.telemetry import rollup_partitions
from observatory.telemetry.models import SeriesHour, SeriesMinute, SpanHour, SpanMinute

WATERMARK = "hourly-rollup"
OVERLAP = timedelta(seconds=30)  # re-read a little: recomputing an hour is idempotent
HOUR = timedelta(hours=1)


def _hour(at):
    return at.replace(minute=0, second=0, microsecond=0)


def downsample(now=None) -> int:
    """Recompute every hour touched since the last run; returns the hourly rows written."""
    now = now or timezone.now()
    mark = Heartbeat.objects.filter(name=WATERMARK).first()
    since = mark.beat_at - OVERLAP if mark else now - timedelta(days=3650)
    span_hours, series_hours = defaultdict(set), defaultdict(set)
    for region_id, minute in SpanMinute.objects.filter(rolled_at__gt=since).values_list(
            "region_id", "minute").distinct():
        span_hours[_hour(minute)].add(region_id)
    for series_id, minute in SeriesMinute.objects.filter(rolled_at__gt=since).values_list(
            "series_id", "minute").distinct():
        series_hours[_hour(minute)].add(series_id)
    # Partitions (by month) before the transaction, which then writes without creating any.
    rollup_partitions.ensure_for_times("telemetry_span_hour", span_hours)
    rollup_partitions.ensure_for_times("telemetry_series_hour", series_hours)
    written = 0
    with transaction.atomic():
        for hour, regions in sorted(span_hours.items()):
            written += _span_hour(hour, regions)
        for hour, series in sorted(series_hours.items()):
            written += _series_hour(hour, series)
        Heartbeat.objects.update_or_create(name=WATERMARK, defaults={"beat_at": now})
    return written


def _span_hour(hour, regions: set[int]) -> int:
    totals: dict[tuple, list] = {}
    for region_id, service, operation, requests, errors, duration, buckets in SpanMinute.objects.filter(
            region_id__in=regions, minute__gte=hour, minute__lt=hour + HOUR).values_list(
            "region_id", "service", "operation", "requests", "errors", "duration_sum_ms", "latency_buckets"):
        entry = totals.setdefault((region_id, service, operation), [0, 0, 0.0, [0] * len(buckets)])
        entry[0] += requests
        entry[1] += errors
        entry[2] += duration
        entry[3] = [a + b for a, b in zip(entry[3], buckets)]
    rows = [SpanHour(region_id=r, service=s, operation=o, hour=hour, requests=v[0], errors=v[1],
                     duration_sum_ms=v[2], latency_buckets=v[3]) for (r, s, o), v in totals.items()]
    SpanHour.objects.bulk_create(rows, update_conflicts=True, unique_fields=["region", "service", "operation", "hour"],
                                 update_fields=["requests", "errors", "duration_sum_ms", "latency_buckets"])
    return len(rows)


def _series_hour(hour, series: set[int]) -> int:
    by_series: dict[int, list] = defaultdict(list)
    for row in SeriesMinute.objects.filter(series_id__in=series, minute__gte=hour, minute__lt=hour + HOUR
                                           ).order_by("minute").values_list(
            "series_id", "samples", "minimum", "maximum", "total", "last", "increase"):
        by_series[row[0]].append(row[1:])
    rows = []
    for series_id, minutes in by_series.items():
        increases = [m[5] for m in minutes if m[5] is not None]
        rows.append(SeriesHour(series_id=series_id, hour=hour, samples=sum(m[0] for m in minutes),
                               minimum=min(m[1] for m in minutes), maximum=max(m[2] for m in minutes),
                               total=sum(m[3] for m in minutes), last=minutes[-1][4],
                               increase=sum(increases) if increases else None))
    SeriesHour.objects.bulk_create(rows, update_conflicts=True, unique_fields=["series", "hour"],
                                   update_fields=["samples", "minimum", "maximum", "total", "last", "increase"])
    return len(rows)
