"""Pre-encoded OTLP request bodies for bench/ingest.py, made unique per request by patching bytes.

Every request must carry new data: a re-sent point or span hits the natural keys
and takes the (slower, rarer) de-duplication path. Encoding 1,000 items per
request in the load generator would cost it as much CPU as the server spends, so
each phase encodes one template body, and ``Stamper`` makes request ``n`` from it
by adding ``n`` microseconds to every timestamp and ``n * K`` to every trace and
span id, in place, with numpy: about 20 microseconds per request.
"""

from __future__ import annotations

import random
import time

import numpy as np
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

ITEMS_PER_REQUEST = 1000
RESOURCES = 2
ID_STEP = 0x9E3779B97F4A7C15  # odd, so n -> n * ID_STEP is a bijection of 64-bit ids
ROUTES = ["/api/orders", "/api/orders/{id}", "/api/cart", "/api/checkout", "/healthz"]
METHODS = ["GET", "POST"]
# (metric name, kind): 5 names x 10 attribute sets x 2 resources = 100 series, 10 points each.
METRICS = [("http.server.request.count", "sum"), ("http.server.active_requests", "gauge"),
           ("process.cpu.utilization", "gauge"), ("db.client.connections.usage", "gauge"),
           ("app.queue.depth", "gauge")]
POINTS_PER_SERIES = 10
SPANS_PER_TRACE = 10


def _attrs(target, values: dict) -> None:
    for key, value in values.items():
        kv = target.add(key=key)
        if isinstance(value, bool):
            kv.value.bool_value = value
        elif isinstance(value, int):
            kv.value.int_value = value
        elif isinstance(value, float):
            kv.value.double_value = value
        else:
            kv.value.string_value = value


def _resource(target, region: str, index: int) -> None:
    _attrs(target.attributes, {
        "service.name": "storefront", "service.version": "2.14.1", "service.instance.id": f"storefront-{index}",
        "host.name": f"ip-10-0-{index}-17", "cloud.provider": "aws", "cloud.region": region,
        "deployment.environment": "production", "telemetry.sdk.language": "python",
    })


def metrics_template(region: str, now_ns: int) -> bytes:
    rng = random.Random(1)
    request = ExportMetricsServiceRequest()
    per_resource = ITEMS_PER_REQUEST // RESOURCES // POINTS_PER_SERIES // len(METRICS)
    for r in range(RESOURCES):
        resource_metrics = request.resource_metrics.add()
        _resource(resource_metrics.resource, region, r)
        scope = resource_metrics.scope_metrics.add()
        scope.scope.name, scope.scope.version = "opentelemetry.instrumentation.bench", "0.1"
        for name, kind in METRICS:
            metric = scope.metrics.add(name=name, unit="1", description=f"{name} (benchmark)")
            data = getattr(metric, kind)
            if kind == "sum":
                data.aggregation_temporality, data.is_monotonic = 2, True
            for s in range(per_resource):
                for p in range(POINTS_PER_SERIES):
                    point = data.data_points.add()
                    _attrs(point.attributes, {"http.route": ROUTES[s % len(ROUTES)],
                                              "http.request.method": METHODS[s // len(ROUTES) % 2],
                                              "http.response.status_code": 200})
                    # Spread over the last minute; +n microseconds per request keeps them unique.
                    point.time_unix_nano = now_ns - 60 * 10**9 + p * 6 * 10**9
                    if kind == "sum":
                        point.start_time_unix_nano = now_ns - 3600 * 10**9
                        point.as_int = 1000 * p + rng.randrange(1000)
                    else:
                        point.as_double = rng.random() * 100
    assert sum(len(m.sum.data_points) + len(m.gauge.data_points) for rm in request.resource_metrics
               for sm in rm.scope_metrics for m in sm.metrics) == ITEMS_PER_REQUEST
    return request.SerializeToString()


def traces_template(region: str, now_ns: int) -> bytes:
    rng = random.Random(2)
    request = ExportTraceServiceRequest()
    traces = ITEMS_PER_REQUEST // RESOURCES // SPANS_PER_TRACE
    for r in range(RESOURCES):
        resource_spans = request.resource_spans.add()
        _resource(resource_spans.resource, region, r)
        scope = resource_spans.scope_spans.add()
        scope.scope.name, scope.scope.version = "opentelemetry.instrumentation.django", "0.52b0"
        for t in range(traces):
            trace_id = rng.randbytes(16)
            route, method = ROUTES[t % len(ROUTES)], METHODS[t % 2]
            start = now_ns - 60 * 10**9 + rng.randrange(55 * 10**9)
            error = rng.random() < 0.03
            root = _span(scope, rng, trace_id, None, f"{method} {route}", Span.SPAN_KIND_SERVER, start,
                         rng.randrange(5, 400) * 10**6, {
                             "http.request.method": method, "http.route": route,
                             "http.response.status_code": 500 if error else 200, "url.scheme": "https",
                             "url.path": route.replace("{id}", str(rng.randrange(10**6))),
                             "server.address": "shop.example.com", "client.address": f"10.1.{t % 250}.{r + 7}",
                             "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
                         })
            if error:
                root.status.code, root.status.message = Status.STATUS_CODE_ERROR, "upstream returned 500"
            for c in range(SPANS_PER_TRACE - 1):
                child_start = start + (c + 1) * 10**5
                if c % 3 == 2:
                    _span(scope, rng, trace_id, root.span_id, "GET", Span.SPAN_KIND_CLIENT, child_start,
                          rng.randrange(1, 50) * 10**6, {
                              "http.request.method": "GET", "url.full": "https://inventory.internal/v2/stock",
                              "server.address": "inventory.internal", "http.response.status_code": 200})
                else:
                    _span(scope, rng, trace_id, root.span_id, "SELECT orders", Span.SPAN_KIND_CLIENT, child_start,
                          rng.randrange(1, 20) * 10**6, {
                              "db.system": "postgresql", "db.name": "shop", "server.address": "db.internal",
                              "db.statement": "SELECT id, total, status FROM orders WHERE customer_id = $1"})
    return request.SerializeToString()


def _span(scope, rng, trace_id, parent, name, kind, start, duration, attributes):
    span = scope.spans.add(trace_id=trace_id, span_id=rng.randbytes(8), name=name, kind=kind,
                           start_time_unix_nano=start, end_time_unix_nano=start + duration)
    if parent:
        span.parent_span_id = parent
    _attrs(span.attributes, attributes)
    return span


# (message full name, field name) -> per-request step added to the field's first 8 bytes.
_PATCHED = {
    ("opentelemetry.proto.metrics.v1.NumberDataPoint", "time_unix_nano"): 1000,
    ("opentelemetry.proto.trace.v1.Span", "start_time_unix_nano"): 1000,
    ("opentelemetry.proto.trace.v1.Span", "end_time_unix_nano"): 1000,
    ("opentelemetry.proto.trace.v1.Span", "trace_id"): ID_STEP,
    ("opentelemetry.proto.trace.v1.Span", "span_id"): ID_STEP,
    ("opentelemetry.proto.trace.v1.Span", "parent_span_id"): ID_STEP,
}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def patch_offsets(buf: bytes, descriptor, start: int = 0, end: int | None = None, out=None) -> list:
    """(byte offset, step) of every field in _PATCHED, found by walking the protobuf wire format."""
    out = [] if out is None else out
    pos, end = start, len(buf) if end is None else end
    while pos < end:
        key, pos = _varint(buf, pos)
        field = descriptor.fields_by_number.get(key >> 3)
        step = _PATCHED.get((descriptor.full_name, field.name)) if field else None
        wire_type = key & 7
        if wire_type == 0:
            _, pos = _varint(buf, pos)
        elif wire_type == 1:
            if step:
                out.append((pos, step))
            pos += 8
        elif wire_type == 5:
            pos += 4
        elif wire_type == 2:
            length, pos = _varint(buf, pos)
            if field is not None and field.message_type is not None:
                patch_offsets(buf, field.message_type, pos, pos + length, out)
            elif step and length >= 8:
                out.append((pos, step))
            pos += length
        else:
            raise ValueError(f"unexpected wire type {wire_type} at {pos}")
    return out


class Stamper:
    """Request bodies made from one template: body(n) differs from body(m) in every timestamp and id."""

    def __init__(self, template: bytes, descriptor):
        offsets = patch_offsets(template, descriptor)
        self.buffer = np.frombuffer(template, dtype=np.uint8).copy()
        positions = np.array([o for o, _ in offsets], dtype=np.int64)
        self.index = positions[:, None] + np.arange(8)
        self.base = self.buffer[self.index].copy().view("<u8")[:, 0]
        self.steps = np.array([s for _, s in offsets], dtype=np.uint64)

    def body(self, n: int) -> bytes:
        values = self.base + self.steps * np.uint64(n)  # wraps modulo 2**64, as intended
        self.buffer[self.index] = values.astype("<u8").view(np.uint8).reshape(-1, 8)
        return self.buffer.tobytes()


def stamper(signal: str, region: str) -> Stamper:
    now_ns = time.time_ns()
    if signal == "metrics":
        return Stamper(metrics_template(region, now_ns), ExportMetricsServiceRequest.DESCRIPTOR)
    return Stamper(traces_template(region, now_ns), ExportTraceServiceRequest.DESCRIPTOR)
