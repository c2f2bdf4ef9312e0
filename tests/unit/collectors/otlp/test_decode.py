"""decode_request: OTLP/HTTP bodies (protobuf and OTLP JSON) to request messages."""

import base64
import json

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from collectors.otlp.decode import JSON, PROTOBUF, DecodeError, decode_request

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
PARENT_ID = "0102030405060708"
ID_KEYS = {"traceId", "spanId", "parentSpanId"}


# --- building bodies -------------------------------------------------------------------------

def sdk_spans_request() -> ExportTraceServiceRequest:
    """Spans made by the real SDK (a parent, a child with a link), encoded by opentelemetry-python."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "cloud.region": "us-east-1"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("decode-test")
    with tracer.start_as_current_span("POST /pay", kind=SpanKind.SERVER,
                                      attributes={"http.route": "/pay", "http.response.status_code": 503}) as parent:
        parent.set_status(Status(StatusCode.ERROR, "upstream down"))
        with tracer.start_as_current_span("db.query", kind=SpanKind.CLIENT, links=[Link(parent.get_span_context())]):
            pass
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


def sdk_metrics_request() -> ExportMetricsServiceRequest:
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=Resource.create({"service.name": "checkout"}), metric_readers=[reader])
    meter = provider.get_meter("decode-test")
    meter.create_counter("app.requests").add(7, {"route": "/pay"})
    meter.create_gauge("observatory.replication.lag", unit="s").set(4.5, {"peer.region": "eu-west-1"})
    latency = meter.create_histogram("http.server.request.duration", unit="s")
    for value in (0.01, 0.2, 0.3):
        latency.record(value, {"http.route": "/pay"})
    data = reader.get_metrics_data()
    provider.shutdown()
    return encode_metrics(data)


def otlp_json(message) -> dict:
    """The OTLP/HTTP JSON form of a message: hex ids, integer enums, lowerCamelCase keys."""

    def hexify(node):
        if isinstance(node, dict):
            return {key: (base64.b64decode(value).hex() if key in ID_KEYS and isinstance(value, str) else hexify(value))
                    for key, value in node.items()}
        if isinstance(node, list):
            return [hexify(item) for item in node]
        return node

    return hexify(json_format.MessageToDict(message, use_integers_for_enums=True))


def body(document) -> bytes:
    return json.dumps(document).encode()


def one_span(span: dict) -> dict:
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def first_span(message):
    return message.resource_spans[0].scope_spans[0].spans[0]


def decode_error(signal: str, media: str, raw: bytes) -> str:
    with pytest.raises(DecodeError) as info:
        decode_request(signal, media, raw)
    return str(info.value)


# --- protobuf --------------------------------------------------------------------------------

def test_protobuf_spans_from_the_sdk_encoder_round_trip():
    request = sdk_spans_request()
    decoded = decode_request("traces", PROTOBUF, request.SerializeToString())
    assert isinstance(decoded, ExportTraceServiceRequest)
    assert decoded == request
    assert len(decoded.resource_spans[0].scope_spans[0].spans) == 2


def test_protobuf_metrics_from_the_sdk_encoder_round_trip():
    request = sdk_metrics_request()
    decoded = decode_request("metrics", PROTOBUF, request.SerializeToString())
    assert isinstance(decoded, ExportMetricsServiceRequest)
    assert decoded == request
    names = {m.name for m in decoded.resource_metrics[0].scope_metrics[0].metrics}
    assert names == {"app.requests", "observatory.replication.lag", "http.server.request.duration"}


def test_empty_protobuf_body_is_an_empty_request():
    assert decode_request("metrics", PROTOBUF, b"") == ExportMetricsServiceRequest()


@pytest.mark.parametrize("raw", [b"\xff\xff\xff\xff", b"\x0a\x05abc", b"\x0a\xff\xff\xff\xff\x0f"])
def test_invalid_protobuf_is_a_decode_error_naming_the_message(raw):
    assert "ExportMetricsServiceRequest" in decode_error("metrics", PROTOBUF, raw)


@pytest.mark.parametrize("keep", [1, 0.5, -1])
def test_truncated_protobuf_is_a_decode_error(keep):
    raw = sdk_spans_request().SerializeToString()  # one resource_spans field spanning the whole body
    cut = raw[:keep] if isinstance(keep, int) else raw[: int(len(raw) * keep)]
    assert "ExportTraceServiceRequest" in decode_error("traces", PROTOBUF, cut)


# --- OTLP JSON -------------------------------------------------------------------------------

def test_json_spans_equal_the_protobuf_they_were_made_from():
    request = sdk_spans_request()
    decoded = decode_request("traces", JSON, body(otlp_json(request)))
    assert decoded == request


def test_json_metrics_equal_the_protobuf_they_were_made_from():
    request = sdk_metrics_request()
    assert decode_request("metrics", JSON, body(otlp_json(request))) == request


def test_hex_ids_become_exactly_those_bytes():
    document = one_span({"traceId": TRACE_ID, "spanId": SPAN_ID, "parentSpanId": PARENT_ID, "name": "x",
                         "links": [{"traceId": TRACE_ID.upper(), "spanId": PARENT_ID}]})
    span = first_span(decode_request("traces", JSON, body(document)))
    assert span.trace_id == bytes.fromhex(TRACE_ID)
    assert span.span_id == bytes.fromhex(SPAN_ID)
    assert span.parent_span_id == bytes.fromhex(PARENT_ID)
    assert span.links[0].trace_id == bytes.fromhex(TRACE_ID)
    assert span.links[0].span_id == bytes.fromhex(PARENT_ID)
    # Not the proto3 canonical mapping, which would base64-decode the hex text.
    assert span.trace_id != base64.b64decode(TRACE_ID)


def test_snake_case_keys_get_hex_ids_too():
    document = {"resource_spans": [{"scope_spans": [{"spans": [
        {"trace_id": TRACE_ID, "span_id": SPAN_ID, "parent_span_id": PARENT_ID}]}]}]}
    span = first_span(decode_request("traces", JSON, body(document)))
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        bytes.fromhex(TRACE_ID), bytes.fromhex(SPAN_ID), bytes.fromhex(PARENT_ID))


@pytest.mark.parametrize("kind", ["gauge", "sum", "histogram", "exponentialHistogram"])
def test_exemplar_ids_are_hex(kind):
    exemplar = {"traceId": TRACE_ID, "spanId": SPAN_ID, "asDouble": 1.5, "timeUnixNano": "5"}
    document = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "m", kind: {"dataPoints": [{"exemplars": [exemplar]}]}}]}]}]}
    metric = decode_request("metrics", JSON, body(document)).resource_metrics[0].scope_metrics[0].metrics[0]
    [decoded] = getattr(metric, {"exponentialHistogram": "exponential_histogram"}.get(kind, kind)).data_points[0].exemplars
    assert decoded.trace_id == bytes.fromhex(TRACE_ID)
    assert decoded.span_id == bytes.fromhex(SPAN_ID)


def test_empty_id_strings_are_allowed_and_stay_empty():
    span = first_span(decode_request("traces", JSON, body(one_span({"traceId": TRACE_ID, "spanId": SPAN_ID,
                                                                        "parentSpanId": ""}))))
    assert span.parent_span_id == b""


@pytest.mark.parametrize("given", ["1700000000000000000", 1700000000000000000])
def test_int64_fields_may_be_strings_or_numbers(given):
    document = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "m", "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                              "dataPoints": [{"timeUnixNano": given, "asInt": given}]}}]}]}]}
    point = decode_request("metrics", JSON, body(document)).resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0]
    assert point.time_unix_nano == 1700000000000000000
    assert point.as_int == 1700000000000000000


def test_negative_int64_as_string():
    document = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "m", "gauge": {"dataPoints": [{"asInt": "-5"}]}}]}]}]}
    point = decode_request("metrics", JSON, body(document)).resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0]
    assert point.as_int == -5


def test_enums_are_integers():
    span = first_span(decode_request("traces", JSON, body(one_span(
        {"traceId": TRACE_ID, "spanId": SPAN_ID, "kind": 2, "status": {"code": 2, "message": "boom"}}))))
    assert span.kind == 2  # SPAN_KIND_SERVER
    assert span.status.code == 2  # STATUS_CODE_ERROR
    document = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "m", "sum": {"aggregationTemporality": 1, "dataPoints": []}}]}]}]}
    metric = decode_request("metrics", JSON, body(document)).resource_metrics[0].scope_metrics[0].metrics[0]
    assert metric.sum.aggregation_temporality == 1  # DELTA


def test_unknown_fields_are_ignored_at_every_level():
    document = one_span({"traceId": TRACE_ID, "spanId": SPAN_ID, "name": "x", "futureField": {"a": [1, 2]}})
    document["somethingNew"] = 1
    document["resourceSpans"][0]["resource"] = {"attributes": [], "notYetSpecified": "x"}
    document["resourceSpans"][0]["scopeSpans"][0]["scope"] = {"name": "lib", "extra": True}
    span = first_span(decode_request("traces", JSON, body(document)))
    assert (span.name, span.trace_id) == ("x", bytes.fromhex(TRACE_ID))


def test_empty_object_is_an_empty_request():
    assert decode_request("traces", JSON, b"{}") == ExportTraceServiceRequest()


# --- OTLP JSON errors ------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "reason"), [
    ("traceId", "zz" * 16, "not hex"),
    ("traceId", TRACE_ID[:-2], "15 bytes"),
    ("traceId", TRACE_ID + "00", "17 bytes"),
    ("traceId", base64.b64encode(bytes.fromhex(TRACE_ID)).decode(), "base64 instead of hex"),
    ("spanId", SPAN_ID[:-1], "odd length"),
    ("spanId", "g" * 16, "not hex"),
    ("parentSpanId", PARENT_ID + "0a", "9 bytes"),
    ("traceId", 12345, "a number"),
    ("spanId", ["ab"], "a list"),
])
def test_bad_span_ids_name_the_field_path(key, value, reason):
    span = {"traceId": TRACE_ID, "spanId": SPAN_ID, key: value}
    document = {"resourceSpans": [
        {"scopeSpans": [{"spans": []}]},
        {"scopeSpans": [{"spans": []}, {"spans": [{"traceId": TRACE_ID, "spanId": SPAN_ID}, span]}]},
    ]}
    message = decode_error("traces", JSON, body(document))
    assert f"resourceSpans[1].scopeSpans[1].spans[1].{key}" in message, reason


def test_bad_link_id_names_the_link():
    document = one_span({"traceId": TRACE_ID, "spanId": SPAN_ID,
                         "links": [{"traceId": TRACE_ID, "spanId": SPAN_ID}, {"traceId": TRACE_ID, "spanId": "xyz"}]})
    assert "resourceSpans[0].scopeSpans[0].spans[0].links[1].spanId" in decode_error("traces", JSON, body(document))


def test_bad_exemplar_id_names_the_exemplar():
    document = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "ok", "gauge": {"dataPoints": [{}]}},
        {"name": "bad", "histogram": {"dataPoints": [{}, {"exemplars": [{"spanId": "00"}]}]}}]}]}]}
    message = decode_error("metrics", JSON, body(document))
    assert "resourceMetrics[0].scopeMetrics[0].metrics[1].histogram.dataPoints[1].exemplars[0].spanId" in message


def test_id_with_whitespace_is_not_hex():
    spaced = "00 " + "11" * 14 + " "  # 32 characters, but only 30 hex digits
    assert len(spaced) == 32
    document = one_span({"traceId": spaced, "spanId": SPAN_ID})
    assert "resourceSpans[0].scopeSpans[0].spans[0].traceId" in decode_error("traces", JSON, body(document))


@pytest.mark.parametrize("raw", [b"[]", b"[{}]", b'"resourceSpans"', b"1", b"null", b"true"])
def test_json_that_is_not_an_object_is_rejected(raw):
    assert "expected an object" in decode_error("traces", JSON, raw)


@pytest.mark.parametrize("raw", [b'{"resourceSpans": [{"name": "\xff\xfe"}]}', b"\xc3\x28{}", b"\x80"])
def test_invalid_utf8_is_rejected(raw):
    assert "invalid JSON" in decode_error("metrics", JSON, raw)


@pytest.mark.parametrize("raw", [b"{", b'{"resourceMetrics": [', b"{'a': 1}", b'{"a": 1,}', b"", b"   ",
                                 b'{"a": tru}', b"{}{}"])
def test_malformed_json_is_rejected(raw):
    assert "invalid JSON" in decode_error("metrics", JSON, raw)


def test_json_nested_too_deeply_is_rejected():
    assert "invalid JSON" in decode_error("traces", JSON, b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("document", [
    {"resourceMetrics": 5},
    {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": 5}]}]}]},
    {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [{"asInt": "x"}]}}]}]}]},
    {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [{"asDouble": "fast"}]}}]}]}]},
    {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "m", "gauge": {"dataPoints": [{"timeUnixNano": str(2**64)}]}}]}]}]},
])
def test_json_of_the_wrong_shape_is_rejected(document):
    assert "invalid OTLP JSON" in decode_error("metrics", JSON, body(document))


def test_integer_literal_too_long_to_convert_is_a_decode_error():
    raw = b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [{"asInt": '
    raw += b"9" * 5000 + b"}]}}]}]}]}"
    assert "invalid JSON" in decode_error("metrics", JSON, raw)
