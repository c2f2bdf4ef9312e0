"""Good/total events per SLO, region and minute, from the minute rollups (via telemetry.queries)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from observatory.regions.models import Region
from observatory.slos.models import Slo
from observatory.telemetry import queries
from observatory.analytics.buckets import LATENCY_BOUNDS_MS

LAG_METRIC = "observatory.replication.lag"


def good_buckets(threshold_ms: float) -> int:
    """How many latency buckets lie at or under the threshold (it must be a bucket bound)."""
    return LATENCY_BOUNDS_MS.index(threshold_ms) + 1


def count_changed(slos: list[Slo], since: datetime, until_minute: datetime) -> dict[tuple, list[float]]:
    """{(slo_id, region_id, minute): [good, total]} for every minute whose rollup changed since ``since``."""
    counts: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    span_slos = [s for s in slos if s.source == Slo.Source.SPANS and s.kind != Slo.Kind.REPLICATION]
    if span_slos:
        by_service = defaultdict(list)
        for slo in span_slos:
            by_service[slo.service].append(slo)
        for region_id, service, operation, minute, requests, errors, buckets in queries.span_minutes_rolled_since(
                since, until_minute):
            for slo in by_service.get(service, ()):
                if slo.operations and operation not in slo.operations:
                    continue
                entry = counts[(slo.id, region_id, minute)]
                good = requests - errors if slo.kind == Slo.Kind.AVAILABILITY else sum(
                    buckets[:good_buckets(slo.threshold_ms)])
                entry[0] += good
                entry[1] += requests
    metric_slos = [s for s in slos if s.source == Slo.Source.METRICS and s.kind == Slo.Kind.AVAILABILITY]
    names = {s.good_metric for s in metric_slos} | {s.total_metric for s in metric_slos}
    replication = [s for s in slos if s.kind == Slo.Kind.REPLICATION]
    if replication:
        names.add(LAG_METRIC)
    rows = queries.series_minutes_rolled_since(since, until_minute, names)
    for slo in metric_slos:
        for region_id, service, name, minute, _maximum, increase in rows:
            if slo.service and service != slo.service:
                continue
            entry = counts[(slo.id, region_id, minute)]
            if name == slo.good_metric:
                entry[0] += increase or 0.0
            if name == slo.total_metric:
                entry[1] += increase or 0.0
    if replication:
        rpo = dict(Region.objects.values_list("id", "rpo_seconds"))
        worst: dict[tuple, float] = {}
        for region_id, _service, name, minute, maximum, _increase in rows:
            if name == LAG_METRIC:
                key = (region_id, minute)
                worst[key] = max(worst.get(key, 0.0), maximum)
        for slo in replication:
            for (region_id, minute), lag in worst.items():
                counts[(slo.id, region_id, minute)] = [1.0 if lag <= rpo.get(region_id, 0) else 0.0, 1.0]
    return counts
