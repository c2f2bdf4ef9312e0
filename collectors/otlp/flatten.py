"""Decoded OTLP requests to storage rows (pure: no Django, no database).

Region identity comes from the caller (the token), never from the payload: a
resource whose ``cloud.region`` names a region the token may not write is
rejected, as are points outside the accepted time window. Rejections are
counted and described for the OTLP partial-success answer; nothing already
valid in the same request is lost.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from operator import itemgetter

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Metric kinds, stored as small integers.
GAUGE, SUM, HISTOGRAM = 1, 2, 3
KIND_NAMES = {GAUGE: "gauge", SUM: "sum", HISTOGRAM: "histogram"}
TEMPORALITY_DELTA, TEMPORALITY_CUMULATIVE = 1, 2
SPAN_KIND_SERVER = 2
STATUS_ERROR = 2
MAX_MESSAGES = 5
_SCALARS = frozenset(("string_value", "int_value", "double_value", "bool_value"))  # AnyValue kinds kept as is
_HTTP_STATUS_KEYS = frozenset(("http.response.status_code", "http.status_code"))
_ZERO_TRACE_ID, _ZERO_SPAN_ID = bytes(16), bytes(8)
_first = itemgetter(0)  # sort pairs by key only: values of a repeated key may not be comparable


def to_datetime(unix_nano: int) -> datetime:
    return EPOCH + timedelta(0, 0, unix_nano // 1000)  # positional: measurably faster than microseconds=


@dataclass(frozen=True)
class Window:
    """Accepted timestamps, in Unix nanoseconds (inclusive)."""

    earliest_ns: int
    latest_ns: int


@dataclass
class Series:
    fingerprint: int
    region_id: int
    name: str
    kind: int
    unit: str
    temporality: int
    monotonic: bool
    service: str
    resource: dict
    attributes: dict


@dataclass
class Rejections:
    count: int = 0
    messages: list[str] = field(default_factory=list)

    def add(self, count: int, message: str) -> None:
        self.count += count
        if message not in self.messages and len(self.messages) < MAX_MESSAGES:
            self.messages.append(message)

    def summary(self) -> str:
        return "; ".join(self.messages)


@dataclass
class MetricRows:
    series: dict[int, Series] = field(default_factory=dict)
    # (fingerprint, time, start_time | None, value)
    points: list[tuple] = field(default_factory=list)
    # (fingerprint, time, start_time | None, count, sum, min, max, bounds, counts)
    histograms: list[tuple] = field(default_factory=list)
    rejected: Rejections = field(default_factory=Rejections)
    region_ids: set[int] = field(default_factory=set)


@dataclass
class SpanRows:
    # (region_id, trace_id, span_id, parent_span_id | None, service, operation, kind, status_code,
    #  status_message, start_time, duration_ms, http_route | None, http_status_code | None, attributes dict)
    spans: list[tuple] = field(default_factory=list)
    rejected: Rejections = field(default_factory=Rejections)
    region_ids: set[int] = field(default_factory=set)


class KVList(tuple):
    """A kvlist AnyValue: sorted (key, value) pairs, told apart from an array of pairs."""

    def __repr__(self):  # fingerprints hash repr(): a map must not look like an array of pairs
        return "KVList" + tuple.__repr__(self)


class Typed:
    """A bool, double or bytes attribute value. Plain Python values would compare equal across
    types (1 == True == 1.0, b"01".hex() == "01") and merge distinct series in identity caches."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value):
        self.tag, self.value = tag, value

    def __eq__(self, other):
        return type(other) is Typed and self.tag == other.tag and self.value == other.value

    def __hash__(self):
        return hash((self.tag, self.value))

    def __repr__(self):
        return f"{self.tag}:{self.value!r}"


def _text(value: str) -> str:
    """PostgreSQL text and jsonb cannot hold NUL; keep the rest of the string."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def any_value(value):
    """An OTLP AnyValue as a hashable Python value (arrays as tuples, maps as KVList)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return _text(value.string_value)
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return Typed("double", value.double_value)
    if kind == "bool_value":
        return Typed("bool", value.bool_value)
    if kind == "array_value":
        return tuple(any_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return KVList(sorted(((_text(kv.key), any_value(kv.value)) for kv in value.kvlist_value.values), key=_first))
    if kind == "bytes_value":
        return Typed("bytes", value.bytes_value.hex())
    return None


def attribute_pairs(attributes) -> tuple:
    """Sorted (key, value) pairs: the canonical, typed form used for identity."""
    pairs = []
    for kv in attributes:  # the hot loop of metric ingest: the common cases inline
        key = kv.key
        pairs.append((_text(key) if "\x00" in key else key, _scalar_or_any(kv.value)))
    pairs.sort(key=_first)
    return tuple(pairs)


def _scalar_or_any(value):
    """any_value(value), faster for the usual attribute values."""
    text = value.string_value
    if text:  # a non-empty string: the oneof holds string_value
        return _text(text) if "\x00" in text else text
    kind = value.WhichOneof("value")
    return value.int_value if kind == "int_value" else any_value(value)


def pairs_to_json(pairs: tuple) -> dict:
    return {key: _jsonable(value) for key, value in pairs}


def _jsonable(value):
    if isinstance(value, Typed):
        value = value.value
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)  # JSON has no NaN or infinity
        return value
    if isinstance(value, KVList):
        return {k: _jsonable(v) for k, v in value}
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def fingerprint(*parts) -> int:
    """A stable signed 64-bit id (Python's hash() differs between processes)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class RegionResolver:
    """Which region a resource belongs to, given the regions the token may write."""

    def __init__(self, allowed: dict[str, int], default: int | None):
        self.allowed = allowed
        self.default = default

    def resolve(self, resource_pairs: tuple, rejected: Rejections, count: int) -> int | None:
        claimed = next((v for k, v in resource_pairs if k == "cloud.region"), None)
        if claimed is None:
            if self.default is None:
                rejected.add(count, "resource has no cloud.region and the token serves several regions")
            return self.default
        region_id = self.allowed.get(claimed) if isinstance(claimed, str) else None
        if region_id is None:
            names = ", ".join(sorted(self.allowed))
            rejected.add(count, f"cloud.region {claimed!r} is not a region this token may write ({names})")
        return region_id


def flatten_metrics(request, resolver: RegionResolver, window: Window, cache: dict | None = None) -> MetricRows:
    """Rows for every acceptable data point; ``cache`` maps identity keys to fingerprints across calls."""
    rows = MetricRows()
    cache = {} if cache is None else cache
    times: dict[int, datetime] = {}  # the points of one export mostly share a few timestamps
    for resource_metrics in request.resource_metrics:
        resource_pairs = attribute_pairs(resource_metrics.resource.attributes)
        items = sum(_count_points(m) for sm in resource_metrics.scope_metrics for m in sm.metrics)
        region_id = resolver.resolve(resource_pairs, rows.rejected, items)
        if region_id is None:
            continue
        rows.region_ids.add(region_id)
        service = _service(resource_pairs)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _flatten_metric(metric, region_id, resource_pairs, service, window, cache, rows, times)
    return rows


def _count_points(metric) -> int:
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


def _service(resource_pairs: tuple) -> str:
    return next((str(_jsonable(v)) for k, v in resource_pairs if k == "service.name"), "unknown_service")


def _flatten_metric(metric, region_id, resource_pairs, service, window, cache, rows, times=None) -> None:
    data_kind = metric.WhichOneof("data")
    if data_kind is None:
        return
    data = getattr(metric, data_kind)
    name = metric.name
    if data_kind == "summary":
        rows.rejected.add(len(data.data_points), f"metric {name!r}: summary metrics are not supported; send histograms")
        return
    if not name:
        rows.rejected.add(len(data.data_points), "metric without a name")
        return
    if "\x00" in name:
        rows.rejected.add(len(data.data_points), f"metric {name!r}: the name contains a NUL character")
        return
    kind = {"gauge": GAUGE, "sum": SUM}.get(data_kind, HISTOGRAM)
    temporality = getattr(data, "aggregation_temporality", 0)
    monotonic = bool(getattr(data, "is_monotonic", False))
    if kind != GAUGE and temporality not in (TEMPORALITY_DELTA, TEMPORALITY_CUMULATIVE):
        rows.rejected.add(len(data.data_points), f"metric {name!r}: aggregation temporality is unspecified")
        return
    earliest, latest = window.earliest_ns, window.latest_ns
    times = {} if times is None else times
    series, points = rows.series, rows.points
    fingerprints: dict[tuple, int] = {}  # attribute pairs -> fingerprint, for this metric of this resource
    resource_json = None
    for point in data.data_points:
        time_ns = point.time_unix_nano
        if not earliest <= time_ns <= latest:
            rows.rejected.add(1, _window_message(name, time_ns, window))
            continue
        pairs = attribute_pairs(point.attributes)
        fp = fingerprints.get(pairs)
        if fp is None:
            key = (region_id, resource_pairs, name, kind, pairs)
            fp = cache.get(key)
            if fp is None:
                fp = cache[key] = fingerprint(*key)
            if fp not in series:
                if resource_json is None:
                    resource_json = pairs_to_json(resource_pairs)
                series[fp] = Series(fp, region_id, name, kind, metric.unit, temporality, monotonic, service,
                                    dict(resource_json), pairs_to_json(pairs))
            fingerprints[pairs] = fp
        at = times.get(time_ns)
        if at is None:
            at = times[time_ns] = to_datetime(time_ns)
        start_ns = point.start_time_unix_nano
        start = None
        if start_ns:
            start = times.get(start_ns)
            if start is None:
                start = times[start_ns] = to_datetime(start_ns)
        if kind == HISTOGRAM:
            try:
                histogram = _histogram_row(point, data_kind)
            except OverflowError:
                rows.rejected.add(1, f"metric {name!r}: exponential bucket bounds overflow a double")
                continue
            if histogram is None:
                rows.rejected.add(1, f"metric {name!r}: bucket counts do not match the bounds")
                continue
            rows.histograms.append((fp, at, start, *histogram))
        else:
            value = point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int)
            points.append((fp, at, start, value))


def _histogram_row(point, data_kind: str) -> tuple | None:
    minimum = point.min if point.HasField("min") else None
    maximum = point.max if point.HasField("max") else None
    total = point.sum if point.HasField("sum") else None
    if data_kind == "histogram":
        bounds, counts = list(point.explicit_bounds), list(point.bucket_counts)
        if counts and len(counts) != len(bounds) + 1:
            return None
    else:
        bounds, counts = exponential_to_explicit(point)
    return (point.count, total, minimum, maximum, bounds, counts)


def exponential_to_explicit(point) -> tuple[list[float], list[int]]:
    """Exponential buckets as explicit upper bounds (base = 2**2**-scale); lossless for counts."""
    base = 2.0 ** (2.0 ** -point.scale)
    negative = [(-(base ** (point.negative.offset + i + 1)), -(base ** (point.negative.offset + i)), c)
                for i, c in enumerate(point.negative.bucket_counts)]
    positive = [(base ** (point.positive.offset + i), base ** (point.positive.offset + i + 1), c)
                for i, c in enumerate(point.positive.bucket_counts)]
    buckets = sorted(negative, key=lambda b: b[0])
    if point.zero_count or not (negative or positive):
        buckets.append((-point.zero_threshold, point.zero_threshold, point.zero_count))
    buckets += positive
    if not buckets:
        return [], []
    bounds = [upper for _, upper, _ in buckets]
    counts = [count for _, _, count in buckets] + [0]
    return bounds, counts


def _window_message(name: str, time_ns: int, window: Window) -> str:
    if time_ns == 0:
        return f"{name}: time_unix_nano is missing"
    side = "old" if time_ns < window.earliest_ns else "far in the future"
    return f"{name}: timestamp {to_datetime(time_ns):%Y-%m-%dT%H:%M:%SZ} is too {side} (accepted: within the ingest window)"


def flatten_spans(request, resolver: RegionResolver, window: Window) -> SpanRows:
    rows = SpanRows()
    for resource_spans in request.resource_spans:
        resource_pairs = attribute_pairs(resource_spans.resource.attributes)
        items = sum(len(ss.spans) for ss in resource_spans.scope_spans)
        region_id = resolver.resolve(resource_pairs, rows.rejected, items)
        if region_id is None:
            continue
        rows.region_ids.add(region_id)
        service = _service(resource_pairs)
        append, rejected = rows.spans.append, rows.rejected
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                row = _span_row(span, region_id, service, window, rejected)
                if row is not None:
                    append(row)
    return rows


def _span_row(span, region_id: int, service: str, window: Window, rejected: Rejections) -> tuple | None:
    trace_id, span_id = span.trace_id, span.span_id  # bytes
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
        rejected.add(1, f"span {span.name!r}: trace_id must be 16 bytes and not all zero")
        return None
    if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
        rejected.add(1, f"span {span.name!r}: span_id must be 8 bytes and not all zero")
        return None
    start_ns, end_ns = span.start_time_unix_nano, span.end_time_unix_nano
    if not window.earliest_ns <= start_ns <= window.latest_ns:
        rejected.add(1, _window_message(f"span {span.name!r}", start_ns, window))
        return None
    if end_ns < start_ns:
        rejected.add(1, f"span {span.name!r}: end_time_unix_nano is before start_time_unix_nano")
        return None
    if "\x00" in span.name:
        rejected.add(1, f"span {span.name!r}: the name contains a NUL character")
        return None
    attributes = {}
    route = http_status = None
    for kv in span.attributes:  # the hot loop of span ingest
        key, value = kv.key, _scalar_or_any(kv.value)
        if "\x00" in key:
            key = _text(key)
        attributes[key] = _jsonable(value) if isinstance(value, (tuple, Typed)) else value
        if key == "http.route":
            if isinstance(value, str):
                route = value
        elif key in _HTTP_STATUS_KEYS:
            http_status = _as_status(value)
    parent = span.parent_span_id
    status = span.status
    return (region_id, trace_id, span_id, parent if len(parent) == 8 else None, service, span.name, span.kind,
            status.code, _text(status.message), to_datetime(start_ns), (end_ns - start_ns) / 1e6,
            route, http_status, attributes)


def _as_status(value) -> int | None:
    if isinstance(value, Typed):
        value = value.value
    try:
        status = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return status if 100 <= status <= 599 else None
