"""Which series the detector watches, read from the minute rollups as one value per minute.

Built in: per region and service the RED rollups (requests per minute, error ratio, p95
latency), replication lag and queue backlog (and metrics mapped onto them); plus every
metric named under ``anomaly.watch``. A series key names the same series in every region,
so the detector can compare a region with its peers; keys are sharded by hash, which keeps
all regions of one key in the same shard.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime

from observatory.analytics.buckets import quantile_ms
from observatory.detection.models import WatchedMetric
from observatory.telemetry import queries
from observatory.telemetry.models import SignalMapping

BUILTIN_SIGNALS = (SignalMapping.Signal.REPLICATION_LAG.value, SignalMapping.Signal.QUEUE_BACKLOG.value)


@dataclass(frozen=True)
class Observation:
    region_id: int
    key: str
    service: str
    minute: datetime
    value: float


def shard_of(key: str, shards: int) -> int:
    return zlib.crc32(key.encode()) % shards


def watched_names() -> set[str]:
    mapped = SignalMapping.objects.filter(signal__in=BUILTIN_SIGNALS).values_list("metric_name", flat=True)
    return {*BUILTIN_SIGNALS, *mapped, *WatchedMetric.objects.values_list("name", flat=True)}


def red_observations(rows) -> list[Observation]:
    """Requests, error ratio and p95 latency per (region, service, minute) from red_minutes rows."""
    found = []
    for region_id, service, minute, requests, errors, buckets in rows:
        found.append(Observation(region_id, f"red.requests|service={service}", service, minute, float(requests)))
        if requests > 0:
            found.append(Observation(region_id, f"red.error_ratio|service={service}", service, minute,
                                     errors / requests))
            found.append(Observation(region_id, f"red.latency_p95_ms|service={service}", service, minute,
                                     quantile_ms(buckets, 0.95)))
    return found


def metric_observations(rows) -> list[Observation]:
    """One value per series and minute: the increase for sums, the last value otherwise."""
    found = []
    for region_id, name, attributes, service, minute, last, increase in rows:
        labels = ",".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                          for k, v in sorted(attributes.items()))
        key = f"{name}|{labels}" if labels else name
        found.append(Observation(region_id, key, service, minute, float(last if increase is None else increase)))
    return found


def observations(after: datetime, until: datetime, shard: int, shards: int) -> list[Observation]:
    """Every watched value of the shard for minutes in (after, until], ordered by minute."""
    found = red_observations(queries.red_minutes(after, until))
    found += metric_observations(queries.metric_minutes(watched_names(), after, until))
    mine = [o for o in found if shard_of(o.key, shards) == shard]
    mine.sort(key=lambda o: o.minute)
    return mine
