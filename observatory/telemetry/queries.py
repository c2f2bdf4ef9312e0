"""The only reader of telemetry. Reads minute rollups, never raw rows, for series data."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collectors.otlp.flatten import GAUGE, HISTOGRAM, KIND_NAMES, SUM
from observatory.regions.models import Region
from observatory.telemetry.models import Series, SeriesHour, SeriesMinute

MAX_SERIES = 500
MAX_POINTS = 11_000  # per series; a week at 1-minute steps fits


class QueryError(ValueError):
    """A query that cannot be answered as asked; the message says what to change."""


@dataclass
class SeriesData:
    fingerprint: int
    region: str
    name: str
    kind: str
    unit: str
    service: str
    attributes: dict
    aggregation: str  # "avg" for gauges, "rate" (per second) for sums
    points: list[tuple[datetime, float]] = field(default_factory=list)


def query_series(name: str, start: datetime, end: datetime, step_seconds: int = 60, region: str | None = None,
                 attributes: dict[str, str] | None = None) -> list[SeriesData]:
    """Number series called ``name`` (optionally in one region, with matching attributes), one value per step."""
    if step_seconds < 60 or step_seconds % 60:
        raise QueryError(f"step must be a positive multiple of 60 seconds, got {step_seconds}")
    if end <= start:
        raise QueryError("end must be after start")
    if (end - start).total_seconds() / step_seconds > MAX_POINTS:
        raise QueryError(f"the range holds more than {MAX_POINTS} steps; use a larger step or a shorter range")
    candidates = Series.objects.filter(name=name)
    if region is not None:
        region_id = Region.objects.filter(name=region).values_list("id", flat=True).first()
        if region_id is None:
            raise QueryError(f"no region named {region!r}")
        candidates = candidates.filter(region_id=region_id)
    wanted = attributes or {}
    matched = [s for s in candidates if all(_text(s.attributes.get(k)) == v for k, v in wanted.items())]
    if len(matched) > MAX_SERIES:
        raise QueryError(f"{len(matched)} series match; add region or attribute filters (limit {MAX_SERIES})")
    histograms = [s for s in matched if s.kind == HISTOGRAM]
    if histograms and len(histograms) == len(matched):
        raise QueryError(f"{name!r} is a histogram; histogram series are not available through /api/v1/series yet")
    matched = [s for s in matched if s.kind in (GAUGE, SUM)]
    region_names = dict(Region.objects.filter(id__in={s.region_id for s in matched}).values_list("id", "name"))
    ids = [s.fingerprint for s in matched]
    if step_seconds % 3600 == 0:  # whole hours: the hourly rollups, which outlive the minute ones
        first_minute = start.replace(minute=0, second=0, microsecond=0)
        rollups = SeriesHour.objects.filter(series_id__in=ids, hour__gte=first_minute, hour__lt=end).values_list(
            "series_id", "hour", "samples", "total", "increase")
    else:
        first_minute = start.replace(second=0, microsecond=0)
        rollups = SeriesMinute.objects.filter(series_id__in=ids, minute__gte=first_minute, minute__lt=end
                                              ).values_list("series_id", "minute", "samples", "total", "increase")
    buckets: dict[int, dict[datetime, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0, 0.0]))
    for series_id, minute, samples, total, increase in rollups:
        step_start = _floor(minute, first_minute, step_seconds)
        bucket = buckets[series_id][step_start]
        bucket[0] += samples
        bucket[1] += total
        bucket[2] += increase or 0.0
    results = []
    for series in matched:
        steps = sorted(buckets.get(series.fingerprint, {}).items())
        if series.kind == SUM:
            points = [(at, b[2] / step_seconds) for at, b in steps]
        else:
            points = [(at, b[1] / b[0]) for at, b in steps if b[0]]
        results.append(SeriesData(series.fingerprint, region_names.get(series.region_id, "?"), series.name,
                                  KIND_NAMES[series.kind], series.unit, series.service, series.attributes,
                                  "rate" if series.kind == SUM else "avg", points))
    return results


def _floor(minute: datetime, origin: datetime, step_seconds: int) -> datetime:
    offset = int((minute - origin).total_seconds()) // step_seconds * step_seconds
    return origin + timedelta(seconds=offset)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def span_minutes_rolled_since(since: datetime, until_minute: datetime) -> list[tuple]:
    """RED rollup rows (re)computed since ``since``: (region_id, service, operation, minute, requests,
    errors, latency_buckets). Incremental readers (SLOs) use this to see only new data."""
    from observatory.telemetry.models import SpanMinute

    return list(SpanMinute.objects.filter(rolled_at__gt=since, minute__lte=until_minute).values_list(
        "region_id", "service", "operation", "minute", "requests", "errors", "latency_buckets"))


def series_minutes_rolled_since(since: datetime, until_minute: datetime, names: set[str]) -> list[tuple]:
    """Series rollup rows (re)computed since ``since`` for the named metrics: (region_id, service, name,
    minute, maximum, increase)."""
    if not names:
        return []
    return list(SeriesMinute.objects.filter(rolled_at__gt=since, minute__lte=until_minute,
                                            series__name__in=names).values_list(
        "series__region_id", "series__service", "series__name", "minute", "maximum", "increase"))


def lag_reports(since: datetime) -> dict[tuple[int, str], list[tuple[datetime, float]]]:
    """Replication lag history from the minute rollups: {(region_id, peer): [(minute, last lag)]}."""
    rows = SeriesMinute.objects.filter(series__name="observatory.replication.lag", minute__gte=since).values_list(
        "series__region_id", "series__attributes", "minute", "last")
    history: dict[tuple[int, str], list[tuple[datetime, float]]] = defaultdict(list)
    for region_id, attributes, minute, last in rows:
        history[(region_id, str(attributes.get("peer.region", "")))].append((minute, last))
    return history


def red_minutes(after: datetime, until: datetime) -> list[tuple]:
    """RED rollups summed over operations, for minutes in (after, until]: (region_id, service,
    minute, requests, errors, latency_buckets), ordered by minute."""
    from observatory.telemetry.models import SpanMinute

    totals: dict[tuple, list] = {}
    rows = SpanMinute.objects.filter(minute__gt=after, minute__lte=until).values_list(
        "region_id", "service", "minute", "requests", "errors", "latency_buckets")
    for region_id, service, minute, requests, errors, buckets in rows:
        entry = totals.setdefault((region_id, service, minute), [0, 0, [0] * len(buckets)])
        entry[0] += requests
        entry[1] += errors
        entry[2] = [a + b for a, b in zip(entry[2], buckets)]
    return sorted(((r, s, m, *v) for (r, s, m), v in totals.items()), key=lambda row: row[2])


def metric_minutes(names: set[str], after: datetime, until: datetime) -> list[tuple]:
    """Series rollups of the named metrics for minutes in (after, until]: (region_id, name,
    attributes, service, minute, last, increase), ordered by minute."""
    if not names:
        return []
    return list(SeriesMinute.objects.filter(series__name__in=names, minute__gt=after, minute__lte=until)
                .order_by("minute").values_list("series__region_id", "series__name", "series__attributes",
                                                "series__service", "minute", "last", "increase"))


def red_rollup(after: datetime, until: datetime, region_id: int | None = None, service: str | None = None,
               step_seconds: int | None = None) -> dict[tuple, list]:
    """RED rollups for minutes in (after, until], summed over operations (and over steps of
    ``step_seconds`` from ``after``; None: the whole range), for the dashboards:
    {(region_id, service, step_start or None): [requests, errors, latency_buckets]}."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return _red_rollup_sql(after, until, region_id, service, step_seconds)
    from observatory.telemetry.models import SpanMinute

    rows = SpanMinute.objects.filter(minute__gt=after, minute__lte=until)
    if region_id is not None:
        rows = rows.filter(region_id=region_id)
    if service is not None:
        rows = rows.filter(service=service)
    totals: dict[tuple, list] = {}
    for rid, svc, minute, requests, errors, buckets in rows.values_list(
            "region_id", "service", "minute", "requests", "errors", "latency_buckets").iterator(chunk_size=5000):
        step = _floor(minute, after, step_seconds) if step_seconds else None
        entry = totals.get((rid, svc, step))
        if entry is None:
            totals[(rid, svc, step)] = [requests, errors, list(buckets)]
            continue
        entry[0] += requests
        entry[1] += errors
        summed = entry[2]
        for i, count in enumerate(buckets):
            summed[i] += count
    return totals


def _red_rollup_sql(after, until, region_id, service, step_seconds) -> dict[tuple, list]:
    """The same sums computed by PostgreSQL (a week of minutes would cost seconds in Python),
    the latency histograms added bucket by bucket."""
    from django.db import connection

    from observatory.analytics.buckets import LATENCY_BOUNDS_MS

    where, params = ["minute > %s", "minute <= %s"], [after, until]
    if region_id is not None:
        where.append("region_id = %s")
        params.append(region_id)
    if service is not None:
        where.append("service = %s")
        params.append(service)
    step = "floor(extract(epoch FROM minute - %s) / %s)::bigint" if step_seconds else "0"
    step_params = [after, step_seconds] if step_seconds else []
    # One SUM per histogram bucket: the arrays have a fixed length, and this is far cheaper than
    # unnesting them.
    buckets = ", ".join(f"COALESCE(SUM((latency_buckets->>{i})::bigint), 0)"
                        for i in range(len(LATENCY_BOUNDS_MS) + 1))
    sql = (f"SELECT region_id, service, {step} AS step, SUM(requests), SUM(errors), {buckets} "
           f"FROM telemetry_span_minute WHERE {' AND '.join(where)} "
           "GROUP BY region_id, service, step")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*step_params, *params])
        rows = cursor.fetchall()
    return {(rid, svc, after + timedelta(seconds=n * step_seconds) if step_seconds else None):
            [int(requests), int(errors), [int(c) for c in counts]]
            for rid, svc, n, requests, errors, *counts in rows}


SPAN_COLUMNS_READ = ("region_id", "trace_id", "span_id", "parent_span_id", "service", "operation", "kind", "status_code",
                     "status_message", "start_time", "duration_ms", "http_route", "http_status_code")


def _spans(where: str, params: list, order: str, limit: int) -> list[dict]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(SPAN_COLUMNS_READ)} FROM telemetry_span WHERE {where} "
                       f"ORDER BY {order} LIMIT %s", [*params, limit])
        rows = cursor.fetchall()
    spans = []
    for row in rows:
        span = dict(zip(SPAN_COLUMNS_READ, row))
        for key in ("trace_id", "span_id", "parent_span_id"):
            span[key] = bytes(span[key]).hex() if span[key] is not None else None
        spans.append(span)
    return spans


def notable_spans(region_id: int, since: datetime, service: str | None = None, slow_ms: float = 1000.0,
                  limit: int = 25) -> dict[str, list[dict]]:
    """The slowest and the latest failed SERVER spans of a region since ``since`` (raw spans: the
    traces page)."""
    from collectors.otlp.flatten import SPAN_KIND_SERVER, STATUS_ERROR

    where = "region_id = %s AND start_time >= %s AND kind = %s"
    params: list = [region_id, since, SPAN_KIND_SERVER]
    if service:
        where += " AND service = %s"
        params.append(service)
    return {"slow": _spans(f"{where} AND duration_ms >= %s", [*params, slow_ms], "duration_ms DESC", limit),
            "errors": _spans(f"{where} AND status_code = %s", [*params, STATUS_ERROR], "start_time DESC", limit)}


def trace_spans(trace_id: bytes, limit: int = 2000) -> list[dict]:
    """Every stored span of one trace, in start order."""
    return _spans("trace_id = %s", [trace_id], "start_time, span_id", limit)
