"""Read models for the traces pages: notable spans per region and service, and one trace laid
out as a waterfall (depth from parent links, offsets and widths as shares of the trace)."""

from __future__ import annotations

from datetime import datetime, timedelta

from observatory.regions.models import Region
from observatory.telemetry import queries as telemetry

SINCE = {"15m": 15, "1h": 60, "6h": 360, "24h": 1440}


def notable(region: Region, service: str, since_key: str, slow_ms: float, now: datetime) -> dict:
    since = now - timedelta(minutes=SINCE.get(since_key, 60))
    return telemetry.notable_spans(region.id, since, service or None, slow_ms)


def waterfall(trace_hex: str) -> dict | None:
    try:
        trace_id = bytes.fromhex(trace_hex)
    except ValueError:
        return None
    spans = telemetry.trace_spans(trace_id)
    if not spans:
        return {"spans": [], "duration_ms": 0}
    start = min(s["start_time"] for s in spans)
    end = max(s["start_time"] + timedelta(milliseconds=s["duration_ms"]) for s in spans)
    total_ms = max((end - start).total_seconds() * 1000, 0.001)
    by_id = {s["span_id"]: s for s in spans}
    children: dict[str | None, list] = {}
    for s in spans:
        parent = s["parent_span_id"] if s["parent_span_id"] in by_id else None
        children.setdefault(parent, []).append(s)
    ordered = []

    def visit(parent, depth):  # depth-first, so each span sits under its parent
        for s in sorted(children.get(parent, []), key=lambda s: s["start_time"]):
            offset = (s["start_time"] - start).total_seconds() * 1000
            ordered.append({**s, "depth": depth, "offset_ms": offset, "left_pct": 100 * offset / total_ms,
                            "width_pct": max(0.3, 100 * s["duration_ms"] / total_ms)})
            visit(s["span_id"], depth + 1)

    visit(None, 0)
    return {"spans": ordered, "duration_ms": total_ms, "start": start,
            "services": sorted({s["service"] for s in spans})}
