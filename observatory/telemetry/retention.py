"""Keep raw data N days, minute rollups M days and hourly rollups HOURLY_RETENTION_DAYS; partitions are made ahead.

On PostgreSQL every one of these tables is partitioned (raw and minute rollups by day,
hourly rollups by month) and expiry drops whole partitions: no row deletes, so the cost
does not grow with the data kept. SQLite has plain tables, so there rows are deleted.
"""

import math
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from observatory.telemetry import partitions, rollup_partitions
from observatory.telemetry.models import SeriesHour, SeriesMinute, SpanHour, SpanMinute

DAYS_AHEAD = 3


def maintain() -> dict:
    now = timezone.now()
    today = now.date()
    back = math.ceil(settings.INGEST_MAX_AGE_SECONDS / 86400)  # late data may still arrive for these days
    partitions.ensure_partitions(today - timedelta(days=back), today + timedelta(days=DAYS_AHEAD))
    created = rollup_partitions.ensure_range(today - timedelta(days=back), today + timedelta(days=DAYS_AHEAD))
    raw_cutoff = now - timedelta(days=settings.RAW_RETENTION_DAYS)
    rollup_cutoff = now - timedelta(days=settings.ROLLUP_RETENTION_DAYS)
    hourly_cutoff = now - timedelta(days=settings.HOURLY_RETENTION_DAYS)
    if connection.vendor == "postgresql":
        # A partition goes once all of it is past its cutoff: a day, or for hourly rollups a whole month.
        dropped = partitions.drop_partitions_before(raw_cutoff.date())
        dropped += rollup_partitions.drop_before(rollup_cutoff.date(), hourly_cutoff.date())
        deleted_raw = deleted_rollups = 0
    else:
        dropped = []
        deleted_raw = partitions.delete_rows_before(raw_cutoff)
        deleted_rollups = (SeriesMinute.objects.filter(minute__lt=rollup_cutoff).delete()[0]
                           + SpanMinute.objects.filter(minute__lt=rollup_cutoff).delete()[0]
                           + _delete_sli_minutes(rollup_cutoff)
                           + SeriesHour.objects.filter(hour__lt=hourly_cutoff).delete()[0]
                           + SpanHour.objects.filter(hour__lt=hourly_cutoff).delete()[0])
    return {"created_partitions": created, "dropped_partitions": dropped, "deleted_raw_rows": deleted_raw,
            "deleted_rollups": deleted_rollups, "deleted_evaluations": _delete_evaluations()}


def _delete_sli_minutes(cutoff) -> int:
    """SQLite only: SLI minutes past every SLO window (the longest is 30 days; rollups outlive it)."""
    from observatory.slos.models import SliMinute

    return SliMinute.objects.filter(minute__lt=cutoff).delete()[0]


def _delete_evaluations() -> int:
    # Evaluations stay a plain table, deleted by rows on every vendor: they are kept only
    # SLO_EVALUATION_RETENTION_DAYS, one row per SLO and region a cycle (not worth partitions yet).
    from observatory.slos.models import Evaluation

    cutoff = timezone.now() - timedelta(days=settings.SLO_EVALUATION_RETENTION_DAYS)
    return Evaluation.objects.filter(evaluated_at__lt=cutoff).delete()[0]
