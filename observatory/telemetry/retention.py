"""Keep raw data N days (whole partitions dropped), minute rollups M days and hourly rollups
HOURLY_RETENTION_DAYS; partitions are made ahead."""

import math
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from observatory.telemetry import partitions
from observatory.telemetry.models import SeriesHour, SeriesMinute, SpanHour, SpanMinute

DAYS_AHEAD = 3


def maintain() -> dict:
    today = timezone.now().date()
    back = math.ceil(settings.INGEST_MAX_AGE_SECONDS / 86400)
    partitions.ensure_partitions(today - timedelta(days=back), today + timedelta(days=DAYS_AHEAD))
    raw_cutoff = today - timedelta(days=settings.RAW_RETENTION_DAYS)
    if connection.vendor == "postgresql":
        dropped = partitions.drop_partitions_before(raw_cutoff)
        deleted_raw = 0
    else:
        dropped = []
        deleted_raw = partitions.delete_rows_before(timezone.now() - timedelta(days=settings.RAW_RETENTION_DAYS))
    rollup_cutoff = timezone.now() - timedelta(days=settings.ROLLUP_RETENTION_DAYS)
    deleted_rollups = SeriesMinute.objects.filter(minute__lt=rollup_cutoff).delete()[0]
    deleted_rollups += SpanMinute.objects.filter(minute__lt=rollup_cutoff).delete()[0]
    deleted_rollups += _delete_slo_history(rollup_cutoff)
    hourly_cutoff = timezone.now() - timedelta(days=settings.HOURLY_RETENTION_DAYS)
    deleted_rollups += SeriesHour.objects.filter(hour__lt=hourly_cutoff).delete()[0]
    deleted_rollups += SpanHour.objects.filter(hour__lt=hourly_cutoff).delete()[0]
    return {"dropped_partitions": dropped, "deleted_raw_rows": deleted_raw, "deleted_rollups": deleted_rollups}


def _delete_slo_history(cutoff) -> int:
    """SLI minutes and evaluations past every SLO window (the longest is 30 days; rollups outlive it)."""
    from observatory.slos.models import Evaluation, SliMinute

    evaluations_cutoff = timezone.now() - timedelta(days=settings.SLO_EVALUATION_RETENTION_DAYS)
    return (SliMinute.objects.filter(minute__lt=cutoff).delete()[0]
            + Evaluation.objects.filter(evaluated_at__lt=evaluations_cutoff).delete()[0])
