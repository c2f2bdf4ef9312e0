"""Per-minute rollups, computed only for minutes that received data (telemetry_dirty_minute).

Ingest marks (kind, region, minute) dirty in the same transaction as the rows;
a rollup run claims dirty minutes with SKIP LOCKED, recomputes each from the raw
rows of that minute alone and deletes the mark in the same transaction. Cost is
proportional to new data, and a crash or retry only recomputes the same minute.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from collectors.otlp.flatten import SPAN_KIND_SERVER, STATUS_ERROR, SUM, TEMPORALITY_CUMULATIVE
from observatory.analytics.buckets import LATENCY_BOUNDS_MS
from observatory.analytics.counters import Sample, cumulative_increase, delta_increase
from observatory.telemetry import rollup_partitions
from observatory.telemetry.models import DirtyMinute, SeriesMinute, SpanMinute

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
PREVIOUS_SAMPLE_LOOKBACK = timedelta(hours=1)


def roll_up_pending(batch_size: int = 200, max_batches: int = 50) -> int:
    """Roll up claimed dirty minutes until none are left (or the run's budget is spent)."""
    done = 0
    for _ in range(max_batches):
        with transaction.atomic():
            claimed = list(
                DirtyMinute.objects.select_for_update(skip_locked=True).order_by("minute")[:batch_size]
            )
            # The partitions first, before this transaction locks the rollup tables by writing them
            # (creating one needs an exclusive lock on its parent); back-filled days included.
            for table, kind in (("telemetry_span_minute", DirtyMinute.Kind.SPANS),
                                ("telemetry_series_minute", DirtyMinute.Kind.POINTS)):
                rollup_partitions.ensure_for_times(table, [d.minute for d in claimed if d.kind == kind])
            for dirty in claimed:
                if dirty.kind == DirtyMinute.Kind.SPANS:
                    roll_up_spans(dirty.region_id, dirty.minute)
                else:
                    roll_up_points(dirty.region_id, dirty.minute)
            DirtyMinute.objects.filter(id__in=[d.id for d in claimed]).delete()
        done += len(claimed)
        if len(claimed) < batch_size:
            break
    return done


def roll_up_spans(region_id: int, minute) -> int:
    """RED rollup of SERVER spans started in the minute, per service and operation."""
    ranges = [(None, LATENCY_BOUNDS_MS[0])] + list(zip(LATENCY_BOUNDS_MS, LATENCY_BOUNDS_MS[1:])) + [
        (LATENCY_BOUNDS_MS[-1], None)
    ]
    bucket_sql = ", ".join(
        "SUM(CASE WHEN " + " AND ".join(
            ([f"duration_ms > {low}"] if low is not None else []) + ([f"duration_ms <= {high}"] if high is not None else [])
        ) + " THEN 1 ELSE 0 END)"
        for low, high in ranges
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT service, operation, COUNT(*), SUM(CASE WHEN status_code = {STATUS_ERROR} THEN 1 ELSE 0 END),
                       SUM(duration_ms), {bucket_sql}
                FROM telemetry_span
                WHERE region_id = %s AND start_time >= %s AND start_time < %s AND kind = {SPAN_KIND_SERVER}
                GROUP BY service, operation""",
            [region_id, minute, minute + MINUTE],
        )
        rows = cursor.fetchall()
    now = timezone.now()
    rollups = [
        SpanMinute(region_id=region_id, service=service, operation=operation, minute=minute, requests=requests,
                   errors=errors, duration_sum_ms=duration_sum, latency_buckets=[int(c) for c in buckets],
                   rolled_at=now)
        for service, operation, requests, errors, duration_sum, *buckets in rows
    ]
    SpanMinute.objects.bulk_create(
        rollups, update_conflicts=True, unique_fields=["region", "service", "operation", "minute"],
        update_fields=["requests", "errors", "duration_sum_ms", "latency_buckets", "rolled_at"],
    )
    return len(rollups)


def roll_up_points(region_id: int, minute) -> int:
    """Per-series minute rollup of number points: min/max/sum/last, and the increase for sums."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT p.series_id, p.time, p.start_time, p.value, s.kind, s.temporality
               FROM telemetry_point p JOIN telemetry_series s ON s.fingerprint = p.series_id
               WHERE s.region_id = %s AND p.time >= %s AND p.time < %s
               ORDER BY p.series_id, p.time""",
            [region_id, minute, minute + MINUTE],
        )
        rows = cursor.fetchall()
    by_series: dict[int, list] = defaultdict(list)
    meta = {}
    for series_id, at, start, value, kind, temporality in rows:
        by_series[series_id].append(Sample(at, start, value))
        meta[series_id] = (kind, temporality)
    cumulative = [sid for sid, (kind, temporality) in meta.items() if kind == SUM and temporality == TEMPORALITY_CUMULATIVE]
    previous = _previous_samples(cumulative, minute)
    rollups, now = [], timezone.now()
    for series_id, samples in by_series.items():
        kind, temporality = meta[series_id]
        values = [s.value for s in samples]
        increase = None
        if kind == SUM:
            increase = (cumulative_increase(previous.get(series_id), samples, minute)
                        if temporality == TEMPORALITY_CUMULATIVE else delta_increase(samples))
        rollups.append(SeriesMinute(series_id=series_id, minute=minute, samples=len(values), minimum=min(values),
                                    maximum=max(values), total=sum(values), last=values[-1], increase=increase,
                                    rolled_at=now))
    SeriesMinute.objects.bulk_create(
        rollups, update_conflicts=True, unique_fields=["series", "minute"],
        update_fields=["samples", "minimum", "maximum", "total", "last", "increase", "rolled_at"],
    )
    return len(rollups)


def _previous_samples(series_ids: list[int], minute) -> dict[int, Sample]:
    """The last sample before the minute for each cumulative series (within the lookback)."""
    if not series_ids:
        return {}
    since = minute - PREVIOUS_SAMPLE_LOOKBACK
    found = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                """SELECT DISTINCT ON (series_id) series_id, time, start_time, value FROM telemetry_point
                   WHERE series_id = ANY(%s) AND time < %s AND time >= %s ORDER BY series_id, time DESC""",
                [series_ids, minute, since],
            )
            rows = cursor.fetchall()
        else:
            rows = []
            for series_id in series_ids:
                cursor.execute(
                    "SELECT series_id, time, start_time, value FROM telemetry_point"
                    " WHERE series_id = %s AND time < %s AND time >= %s ORDER BY time DESC LIMIT 1",
                    [series_id, minute, since],
                )
                rows += cursor.fetchall()
    for series_id, at, start, value in rows:
        found[series_id] = Sample(at, start, value)
    return found

