"""Health-signal metrics (DESIGN.md "Health signals") kept as each region's current values.

Called by telemetry.ingest inside its transaction; other metric names count as a
signal through the admin-editable SignalMapping table.
"""

import time

from django.db import connection

from collectors.otlp.flatten import HISTOGRAM, MetricRows
from observatory.telemetry.models import SignalMapping

# signal metric name -> attribute naming the peer, target or queue
SIGNAL_KEYS = {
    SignalMapping.Signal.REPLICATION_LAG.value: "peer.region",
    SignalMapping.Signal.CIRCUIT_BREAKER.value: "target",
    SignalMapping.Signal.QUEUE_BACKLOG.value: "queue",
    SignalMapping.Signal.NETWORK_PARTITION.value: "peer.region",
}
MAPPING_TTL_SECONDS = 30.0
_mappings: tuple[float, dict] = (-1e9, {})


def _load_mappings() -> dict:
    """{metric name: (signal, key attribute, scale)}, cached briefly so edits apply within seconds."""
    global _mappings
    loaded_at, mappings = _mappings
    if time.monotonic() - loaded_at > MAPPING_TTL_SECONDS:
        mappings = {
            m.metric_name: (m.signal, m.key_attribute or SIGNAL_KEYS[m.signal], m.scale)
            for m in SignalMapping.objects.all()
        }
        _mappings = (time.monotonic(), mappings)
    return mappings


def reset_cache() -> None:
    global _mappings
    _mappings = (-1e9, {})


def record(rows: MetricRows) -> None:
    mappings = _load_mappings()
    wanted = {}
    for fp, series in rows.series.items():
        if series.kind == HISTOGRAM:
            continue
        if series.name in SIGNAL_KEYS:
            wanted[fp] = (series.name, SIGNAL_KEYS[series.name], 1.0)
        elif series.name in mappings:
            wanted[fp] = mappings[series.name]
    if not wanted:
        return
    latest: dict[int, tuple] = {}
    for fp, at, _start, value in rows.points:
        if fp in wanted and (fp not in latest or at >= latest[fp][0]):
            latest[fp] = (at, value)
    params = []
    for fp, (at, value) in latest.items():
        signal, key_attribute, scale = wanted[fp]
        series = rows.series[fp]
        key = series.attributes.get(key_attribute, "")
        params.append((series.region_id, signal, str(key), value * scale, at))
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO telemetry_region_signal (region_id, signal, key, value, observed_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (region_id, signal, key) DO UPDATE"
            " SET value = excluded.value, observed_at = excluded.observed_at"
            " WHERE excluded.observed_at >= telemetry_region_signal.observed_at",
            params,
        )
