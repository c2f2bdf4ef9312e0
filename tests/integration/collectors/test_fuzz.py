"""Fuzzing the OTLP decoder through the view: whatever the body, the answer is 200, 400 or 413,
and 200 exactly when an independent parse says the body is a valid request.

Generated payloads leave out NUL characters and double-valued attributes: those are valid
OTLP that the store cannot hold, covered (as known bugs) in test_contract.py.
"""

import base64
import gzip
import json
import re
import time
import zlib

import pytest
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, status_pb2
from hypothesis import HealthCheck, event, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1 import trace_pb2 as t

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token

PROTOBUF, JSON = "application/x-protobuf", "application/json"
PATHS = {"metrics": "/v1/metrics", "traces": "/v1/traces"}
REQUESTS = {"metrics": ExportMetricsServiceRequest, "traces": ExportTraceServiceRequest}
RESPONSES = {"metrics": ExportMetricsServiceResponse, "traces": ExportTraceServiceResponse}
ID_KEYS = {"traceId", "spanId", "parentSpanId"}
HEX_FIELDS = {"trace_id": 16, "span_id": 8, "parent_span_id": 8}
HEX = re.compile(r"[0-9a-fA-F]*")
MAX_BODY = 4096
NOW = time.time_ns()
SECOND = 10**9

FUZZ = fuzz_settings(max_examples=100, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
EVERY = pytest.mark.parametrize(("signal", "media"), [(s, md) for s in PATHS for md in (PROTOBUF, JSON)])


@pytest.fixture
def fuzz_token(db, settings):
    """One token for all of a test's examples; no rate limit, a small body cap."""
    settings.INGEST_RATE_LIMIT_PER_SECOND = 0
    settings.INGEST_MAX_BODY_BYTES = MAX_BODY
    return issue_token(Region.objects.create(name="fuzz-1"))


# --- independent oracles ---------------------------------------------------------------------

def protobuf_is_valid(signal: str, body: bytes) -> bool:
    try:
        REQUESTS[signal]().ParseFromString(body)
    except DecodeError:
        return False
    return True


def json_is_valid(signal: str, body: bytes) -> bool:
    """OTLP JSON: an object; the trace_id/span_id/parent_span_id fields as hex; the rest per proto3 JSON.

    The id fields are found through the message descriptors, not the decoder's key paths.
    """
    try:
        document = json.loads(body)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False

    def ids_to_base64(node, descriptor):
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            field = descriptor.fields_by_camelcase_name.get(key) or descriptor.fields_by_name.get(key)
            if field is None:
                pass  # unknown fields are ignored
            elif field.name in HEX_FIELDS and field.type == field.TYPE_BYTES:
                if value not in (None, ""):
                    if not (isinstance(value, str) and len(value) == 2 * HEX_FIELDS[field.name]
                            and HEX.fullmatch(value)):
                        raise ValueError(key)
                    value = base64.b64encode(bytes.fromhex(value)).decode()
            elif field.message_type is not None:
                if isinstance(value, list):
                    value = [ids_to_base64(item, field.message_type) for item in value]
                else:
                    value = ids_to_base64(value, field.message_type)
            out[key] = value
        return out

    message = REQUESTS[signal]()
    try:
        json_format.ParseDict(ids_to_base64(document, message.DESCRIPTOR), message, ignore_unknown_fields=True)
    except Exception:
        return False
    return True


def post(client, token: str, signal: str, media: str, body: bytes, **headers):
    # Content-Type as a header too: the test client drops content_type when the body is empty.
    return client.generic("POST", PATHS[signal], body, content_type=media,
                          headers={"Content-Type": media, "Authorization": f"Bearer {token}", **headers})


def check(response, signal: str, media: str, expected: int) -> None:
    event(f"expected {expected}")  # pytest --hypothesis-show-statistics shows the mix
    assert response.status_code in (200, 400, 413), response.content[:300]
    assert response.status_code == expected, response.content[:300]
    assert response["Content-Type"] == media
    message = RESPONSES[signal]() if expected == 200 else status_pb2.Status()
    if media == PROTOBUF:
        message.ParseFromString(response.content)
    else:
        json_format.Parse(response.content, message)
    if expected == 400:
        assert message.code == code_pb2.INVALID_ARGUMENT and message.message
    elif expected == 413:
        assert message.code == code_pb2.RESOURCE_EXHAUSTED


# --- valid requests to start from ------------------------------------------------------------

text = st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=12)
times = st.integers(NOW - 3600 * SECOND, NOW + 60 * SECOND)
attribute_values = st.one_of(
    text.map(lambda v: AnyValue(string_value=v)),
    st.integers(-(2**63), 2**63 - 1).map(lambda v: AnyValue(int_value=v)),
    st.booleans().map(lambda v: AnyValue(bool_value=v)),
)
key_values = st.lists(st.builds(KeyValue, key=text, value=attribute_values), max_size=3)
resources = st.builds(Resource, attributes=key_values)
doubles = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def number_points(draw):
    return m.NumberDataPoint(time_unix_nano=draw(times), as_double=draw(doubles), attributes=draw(key_values),
                             exemplars=draw(st.lists(st.builds(
                                 m.Exemplar, trace_id=st.binary(min_size=16, max_size=16),
                                 span_id=st.binary(min_size=8, max_size=8), as_double=doubles), max_size=1)))


@st.composite
def metrics(draw):
    name, kind = draw(text), draw(st.sampled_from(["gauge", "sum", "histogram"]))
    if kind == "gauge":
        return m.Metric(name=name, gauge=m.Gauge(data_points=draw(st.lists(number_points(), max_size=3))))
    temporality = draw(st.sampled_from([0, 1, 2]))
    if kind == "sum":
        return m.Metric(name=name, sum=m.Sum(data_points=draw(st.lists(number_points(), max_size=3)),
                                             aggregation_temporality=temporality, is_monotonic=draw(st.booleans())))
    bounds = sorted(draw(st.lists(doubles, max_size=3)))
    point = m.HistogramDataPoint(time_unix_nano=draw(times), explicit_bounds=bounds, count=draw(st.integers(0, 99)),
                                 bucket_counts=draw(st.lists(st.integers(0, 9), min_size=len(bounds) + 1,
                                                             max_size=len(bounds) + 1)))
    return m.Metric(name=name, histogram=m.Histogram(data_points=[point], aggregation_temporality=temporality))


@st.composite
def metrics_requests(draw):
    return ExportMetricsServiceRequest(resource_metrics=[
        m.ResourceMetrics(resource=draw(resources), scope_metrics=[m.ScopeMetrics(metrics=draw(st.lists(metrics(), max_size=3)))])
        for _ in range(draw(st.integers(1, 2)))])


@st.composite
def spans(draw):
    start = draw(times)
    return t.Span(
        trace_id=draw(st.binary(min_size=16, max_size=16)), span_id=draw(st.binary(min_size=8, max_size=8)),
        parent_span_id=draw(st.one_of(st.just(b""), st.binary(min_size=8, max_size=8))),
        name=draw(text), kind=draw(st.integers(0, 5)), start_time_unix_nano=start,
        end_time_unix_nano=start + draw(st.integers(0, 10 * SECOND)), attributes=draw(key_values),
        status=t.Status(code=draw(st.integers(0, 2)), message=draw(text)),
        links=draw(st.lists(st.builds(t.Span.Link, trace_id=st.binary(min_size=16, max_size=16),
                                      span_id=st.binary(min_size=8, max_size=8)), max_size=1)))


@st.composite
def traces_requests(draw):
    return ExportTraceServiceRequest(resource_spans=[
        t.ResourceSpans(resource=draw(resources), scope_spans=[t.ScopeSpans(spans=draw(st.lists(spans(), max_size=3)))])
        for _ in range(draw(st.integers(1, 2)))])


VALID = {"metrics": metrics_requests(), "traces": traces_requests()}


def otlp_json(message) -> str:
    def hexify(node):
        if isinstance(node, dict):
            return {k: (base64.b64decode(v).hex() if k in ID_KEYS else hexify(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [hexify(item) for item in node]
        return node

    return json.dumps(hexify(json_format.MessageToDict(message, use_integers_for_enums=True)))


# --- the fuzz tests --------------------------------------------------------------------------

OTLP_KEYS = ["resourceMetrics", "resourceSpans", "scopeMetrics", "scopeSpans", "metrics", "spans", "resource",
             "attributes", "key", "value", "stringValue", "intValue", "name", "gauge", "dataPoints", "asDouble",
             "timeUnixNano", "startTimeUnixNano", "traceId", "spanId", "kind", "status", "code"]
json_documents = st.dictionaries(
    st.one_of(st.sampled_from(OTLP_KEYS), text),
    st.recursive(st.none() | st.booleans() | st.integers() | doubles | text | st.sampled_from(["ab" * 8, "ab" * 16]),
                 lambda children: st.lists(children, max_size=3)
                 | st.dictionaries(st.one_of(st.sampled_from(OTLP_KEYS), text), children, max_size=3),
                 max_leaves=8),
    max_size=3)


@EVERY
def test_random_bytes(client, fuzz_token, signal, media):
    @FUZZ
    @given(body=st.one_of(st.binary(max_size=600),
                          st.binary(min_size=MAX_BODY - 2, max_size=MAX_BODY + 2),
                          st.text("{}[]\",:0123456789.-eE truefalsn\\", max_size=200).map(str.encode),
                          json_documents.map(lambda d: json.dumps(d).encode())))
    def run(body):
        if len(body) > MAX_BODY:
            expected = 413
        else:
            valid = protobuf_is_valid(signal, body) if media == PROTOBUF else json_is_valid(signal, body)
            expected = 200 if valid else 400
        check(post(client, fuzz_token, signal, media, body), signal, media, expected)

    run()


@pytest.mark.parametrize("signal", PATHS)
def test_truncated_valid_protobuf(client, fuzz_token, signal):
    @FUZZ
    @given(message=VALID[signal], data=st.data())
    def run(message, data):
        full = message.SerializeToString()
        body = full[: data.draw(st.integers(0, max(len(full) - 1, 0)), label="cut")]
        assert len(body) < MAX_BODY or len(full) > MAX_BODY
        expected = 413 if len(body) > MAX_BODY else (200 if protobuf_is_valid(signal, body) else 400)
        check(post(client, fuzz_token, signal, PROTOBUF, body), signal, PROTOBUF, expected)

    run()


MUTATIONS = ["truncate", "delete", "insert", "replace", "replace byte"]


@pytest.mark.parametrize("signal", PATHS)
def test_malformed_json(client, fuzz_token, signal):
    @FUZZ
    @given(message=VALID[signal], mutation=st.sampled_from(MUTATIONS), data=st.data())
    def run(message, mutation, data):
        document = otlp_json(message)
        at = data.draw(st.integers(0, len(document)), label="at")
        char = data.draw(st.sampled_from('{}[]",:0-9aeft '), label="char")
        if mutation == "truncate":
            body = document[:at].encode()
        elif mutation == "delete":
            body = (document[:at] + document[at + 1:]).encode()
        elif mutation == "insert":
            body = (document[:at] + char + document[at:]).encode()
        elif mutation == "replace":
            body = (document[:at] + char + document[at + 1:]).encode()
        else:
            raw = bytearray(document.encode())
            raw[min(at, len(raw) - 1)] = data.draw(st.integers(0, 255), label="byte")
            body = bytes(raw)
        expected = 413 if len(body) > MAX_BODY else (200 if json_is_valid(signal, body) else 400)
        check(post(client, fuzz_token, signal, JSON, body), signal, JSON, expected)

    run()


def test_valid_requests_are_accepted(client, fuzz_token):
    """The generators themselves make valid requests (so the mutations above start from good bodies)."""
    @FUZZ
    @given(signal=st.sampled_from(list(PATHS)), media=st.sampled_from([PROTOBUF, JSON]), data=st.data())
    def run(signal, media, data):
        message = data.draw(VALID[signal], label="message")
        body = message.SerializeToString() if media == PROTOBUF else otlp_json(message).encode()
        check(post(client, fuzz_token, signal, media, body), signal, media, 413 if len(body) > MAX_BODY else 200)

    run()


def test_random_gzip_bodies(client, fuzz_token):
    @FUZZ
    @given(body=st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: gzip.compress(b)[:-1]),
                          st.binary(max_size=300).map(gzip.compress),
                          VALID["metrics"].map(lambda message: gzip.compress(message.SerializeToString()))))
    def run(body):
        try:
            inner = gzip.decompress(body)  # like the view, takes an empty body as empty
        except (OSError, EOFError, zlib.error):
            inner = None
        expected = 200 if inner is not None and protobuf_is_valid("metrics", inner) else 400
        check(post(client, fuzz_token, "metrics", PROTOBUF, body, content_encoding="gzip"), "metrics", PROTOBUF,
              expected)

    run()
