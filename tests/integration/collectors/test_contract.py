"""The OTLP/HTTP status-code contract of POST /v1/metrics and /v1/traces, one test per row.

Every error body is a google.rpc.Status in the request's media type (JSON when the
media type itself is unsupported). Retryable answers (429, 503) carry Retry-After.
"""

import base64
import gzip
import json
import time

import pytest
import requests
from django.db import connection
from django.test import Client
from django.utils import timezone
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1 import trace_pb2 as t

from collectors import views
from observatory.regions.models import RegionToken
from observatory.regions.tokens import hash_token, issue_token
from observatory.telemetry import ingest

PROTOBUF, JSON = "application/x-protobuf", "application/json"
PATHS = {"metrics": "/v1/metrics", "traces": "/v1/traces"}
SECOND = 10**9
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
ID_KEYS = {"traceId", "spanId", "parentSpanId"}


# --- payloads --------------------------------------------------------------------------------

def attributes(mapping: dict) -> list[KeyValue]:
    def value(v):
        if isinstance(v, float):
            return AnyValue(double_value=v)
        if isinstance(v, int):
            return AnyValue(int_value=v)
        return AnyValue(string_value=v)

    return [KeyValue(key=k, value=value(v)) for k, v in mapping.items()]


def resource_metrics(*metrics, **resource) -> m.ResourceMetrics:
    return m.ResourceMetrics(resource=Resource(attributes=attributes({"service.name": "checkout", **resource})),
                             scope_metrics=[m.ScopeMetrics(metrics=metrics)])


def gauge(name: str, *times: int, value=4.5, labels=None) -> m.Metric:
    return m.Metric(name=name, gauge=m.Gauge(data_points=[
        m.NumberDataPoint(time_unix_nano=time_ns, as_double=value, attributes=attributes(labels or {}))
        for time_ns in times]))


def metrics_request(*resources) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest(resource_metrics=resources or [resource_metrics(gauge("app.load", time.time_ns()))])


def full_metrics_request(now: int) -> ExportMetricsServiceRequest:
    """A gauge, a cumulative sum and a histogram."""
    counter = m.Metric(name="app.requests", sum=m.Sum(
        aggregation_temporality=m.AGGREGATION_TEMPORALITY_CUMULATIVE, is_monotonic=True,
        data_points=[m.NumberDataPoint(time_unix_nano=now, start_time_unix_nano=now - 60 * SECOND, as_int=7)]))
    latency = m.Metric(name="http.server.request.duration", histogram=m.Histogram(
        aggregation_temporality=m.AGGREGATION_TEMPORALITY_DELTA,
        data_points=[m.HistogramDataPoint(time_unix_nano=now, count=3, sum=0.51, explicit_bounds=[0.1, 1.0],
                                          bucket_counts=[1, 2, 0])]))
    return metrics_request(resource_metrics(gauge("app.load", now, now - SECOND), counter, latency))


def span(name: str, span_id: int, start: int, end: int | None = None, **fields) -> t.Span:
    return t.Span(name=name, trace_id=TRACE_ID, span_id=span_id.to_bytes(8, "big"), start_time_unix_nano=start,
                  end_time_unix_nano=start + SECOND // 4 if end is None else end, **fields)


def resource_spans(*spans, **resource) -> t.ResourceSpans:
    return t.ResourceSpans(resource=Resource(attributes=attributes({"service.name": "checkout", **resource})),
                           scope_spans=[t.ScopeSpans(spans=spans)])


def traces_request(*resources) -> ExportTraceServiceRequest:
    if not resources:
        now = time.time_ns()
        resources = [resource_spans(span("POST /pay", 1, now, kind=t.Span.SPAN_KIND_SERVER,
                                         attributes=attributes({"http.route": "/pay"})),
                                    span("db.query", 2, now, parent_span_id=(1).to_bytes(8, "big")))]
    return ExportTraceServiceRequest(resource_spans=resources)


def encode(message, media: str) -> bytes:
    """The request body in the given media type; JSON follows OTLP's rules (hex ids, integer enums)."""
    if media == PROTOBUF:
        return message.SerializeToString()

    def hexify(node):
        if isinstance(node, dict):
            return {k: (base64.b64decode(v).hex() if k in ID_KEYS else hexify(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [hexify(item) for item in node]
        return node

    return json.dumps(hexify(json_format.MessageToDict(message, use_integers_for_enums=True))).encode()


def request_for(signal: str):
    return metrics_request() if signal == "metrics" else traces_request()


# --- HTTP helpers ----------------------------------------------------------------------------

def post(client, signal: str, body: bytes, media: str | None = PROTOBUF, token: str | None = None,
         authorization: str | None = None, **headers):
    if media:
        headers["Content-Type"] = media  # the test client drops content_type when the body is empty
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    elif authorization is not None:
        headers["Authorization"] = authorization
    return client.generic("POST", PATHS[signal], body, content_type=media or "", headers=headers)


def rpc_status(response, media: str) -> status_pb2.Status:
    assert response["Content-Type"] == media
    status = status_pb2.Status()
    if media == PROTOBUF:
        status.ParseFromString(response.content)
    else:
        json_format.Parse(response.content, status)
    return status


def export_response(response, signal: str, media: str):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == media
    message = ExportMetricsServiceResponse() if signal == "metrics" else ExportTraceServiceResponse()
    if media == PROTOBUF:
        message.ParseFromString(response.content)
    else:
        json_format.Parse(response.content, message)
    return message


def count(table: str, where: str = "TRUE", params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)
        return cursor.fetchone()[0]


def stored_rows() -> dict:
    return {table: count(table) for table in
            ("telemetry_series", "telemetry_point", "telemetry_histogram_point", "telemetry_span")}


BOTH = pytest.mark.parametrize("media", [PROTOBUF, JSON])
EVERY = pytest.mark.parametrize(("signal", "media"), [(s, md) for s in PATHS for md in (PROTOBUF, JSON)])


# --- 200 -------------------------------------------------------------------------------------

@EVERY
def test_200_answers_in_the_request_media_type_with_empty_partial_success(client, token, signal, media):
    response = post(client, signal, encode(request_for(signal), media), media, token)
    message = export_response(response, signal, media)
    empty = ExportMetricsPartialSuccess() if signal == "metrics" else ExportTracePartialSuccess()
    assert message.partial_success == empty
    if media == JSON:
        assert json.loads(response.content).get("partialSuccess", {}) == {}
    if signal == "metrics":
        assert stored_rows()["telemetry_point"] == 1
    else:
        assert count("telemetry_span", "trace_id = %s", [TRACE_ID]) == 2


def test_200_stores_gauges_sums_and_histograms(client, token, region):
    response = post(client, "metrics", full_metrics_request(time.time_ns()).SerializeToString(), PROTOBUF, token)
    export_response(response, "metrics", PROTOBUF)
    assert stored_rows() == {"telemetry_series": 3, "telemetry_point": 3, "telemetry_histogram_point": 1,
                             "telemetry_span": 0}
    assert count("telemetry_series", "region_id = %s", [region.id]) == 3


def test_200_json_hex_ids_are_stored_as_those_bytes(client, token):
    now = time.time_ns()
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": TRACE_ID.hex(), "spanId": "eee19b7ec3c1b174", "parentSpanId": "0102030405060708",
        "name": "GET /", "kind": 2, "startTimeUnixNano": str(now), "endTimeUnixNano": now + 1000}]}]}]}
    export_response(post(client, "traces", json.dumps(document).encode(), JSON, token), "traces", JSON)
    with connection.cursor() as cursor:
        cursor.execute("SELECT trace_id, span_id, parent_span_id, kind FROM telemetry_span")
        [(trace_id, span_id, parent, kind)] = cursor.fetchall()
    assert (bytes(trace_id), bytes(span_id), bytes(parent), kind) == (
        TRACE_ID, bytes.fromhex("eee19b7ec3c1b174"), bytes.fromhex("0102030405060708"), 2)


def test_200_gzip_body(client, token):
    body = gzip.compress(encode(metrics_request(), PROTOBUF))
    export_response(post(client, "metrics", body, PROTOBUF, token, content_encoding="gzip"), "metrics", PROTOBUF)
    assert stored_rows()["telemetry_point"] == 1


# --- 200 with partial success ----------------------------------------------------------------

def test_200_partial_success_for_metrics(client, token, other_region):
    now = time.time_ns()
    request = metrics_request(
        resource_metrics(gauge("app.load", now, now + 600 * SECOND)),  # 1 good, 1 ten minutes ahead
        resource_metrics(gauge("app.load", now, now - SECOND), **{"cloud.region": "eu-west-1"}),  # 2 elsewhere
    )
    message = export_response(post(client, "metrics", encode(request, PROTOBUF), PROTOBUF, token), "metrics", PROTOBUF)
    assert message.partial_success.rejected_data_points == 3
    text = message.partial_success.error_message
    assert "cloud.region 'eu-west-1' is not a region this token may write (us-east-1)" in text
    assert "is too far in the future" in text
    assert text.isascii() and text[0].isalpha()
    assert stored_rows()["telemetry_point"] == 1


def test_200_partial_success_for_traces_in_json(client, token, other_region):
    now = time.time_ns()
    request = traces_request(
        resource_spans(span("good", 1, now), span("backwards", 2, now, end=now - SECOND)),
        resource_spans(span("elsewhere", 3, now), **{"cloud.region": "eu-west-1"}),
    )
    message = export_response(post(client, "traces", encode(request, JSON), JSON, token), "traces", JSON)
    assert message.partial_success.rejected_spans == 2
    assert "span 'backwards': end_time_unix_nano is before start_time_unix_nano" in message.partial_success.error_message
    assert "cloud.region 'eu-west-1'" in message.partial_success.error_message
    with connection.cursor() as cursor:
        cursor.execute("SELECT operation FROM telemetry_span")
        assert cursor.fetchall() == [("good",)]


# --- 400 -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("signal", "media", "body", "encoding", "says"), [
    ("metrics", PROTOBUF, b"\xff\xff\xff\xff", None, "invalid protobuf ExportMetricsServiceRequest"),
    ("traces", PROTOBUF, traces_request().SerializeToString()[:-3], None, "invalid protobuf ExportTraceServiceRequest"),
    ("metrics", JSON, b'{"resourceMetrics": [', None, "invalid JSON"),
    ("traces", JSON, b"[1, 2]", None, "expected an object"),
    ("traces", JSON, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', None,
     "resourceSpans[0].scopeSpans[0].spans[0].traceId"),
    ("metrics", PROTOBUF, b"\x1f\x8b\x08\x00not really gzip", "gzip", "corrupt gzip body"),
    ("traces", JSON, gzip.compress(b'{"resourceSpans": []}')[:-4], "gzip", "corrupt gzip body"),
])
def test_400_corrupt_body(client, token, signal, media, body, encoding, says):
    headers = {"content_encoding": encoding} if encoding else {}
    response = post(client, signal, body, media, token, **headers)
    assert response.status_code == 400
    status = rpc_status(response, media)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert says in status.message
    assert not any(stored_rows().values())


def test_400_json_with_an_integer_too_long_to_convert(token):
    body = b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [{"asInt": '
    body += b"9" * 5000 + b"}]}}]}]}]}"
    response = post(Client(raise_request_exception=False), "metrics", body, JSON, token)
    assert response.status_code == 400
    assert rpc_status(response, JSON).code == code_pb2.INVALID_ARGUMENT


# --- 401 -------------------------------------------------------------------------------------

def revoked_token(region) -> str:
    raw = issue_token(region)
    RegionToken.objects.filter(token_hash=hash_token(raw)).update(revoked_at=timezone.now())
    return raw


@pytest.mark.parametrize(("case", "media"), [
    ("missing", PROTOBUF), ("basic scheme", JSON), ("bearer without token", PROTOBUF), ("no scheme", JSON),
    ("malformed", PROTOBUF), ("unknown", JSON), ("revoked", PROTOBUF),
])
def test_401_bad_tokens(client, token, region, case, media):
    if case == "revoked":
        authorization = "Bearer " + revoked_token(region)
    else:
        authorization = {
            "missing": None,
            "basic scheme": "Basic dXNlcjpwYXNz",
            "bearer without token": "Bearer ",
            "no scheme": token,
            "malformed": "Bearer not-a-region-token",
            "unknown": "Bearer obs_" + "A" * 43,
        }[case]
    response = post(client, "metrics", encode(metrics_request(), media), media, authorization=authorization)
    assert response.status_code == 401
    status = rpc_status(response, media)
    assert status.code == code_pb2.UNAUTHENTICATED
    assert "bearer token" in status.message
    assert stored_rows()["telemetry_point"] == 0


def test_401_after_revocation_once_the_token_cache_expires(client, token, settings):
    settings.INGEST_TOKEN_CACHE_SECONDS = 0
    assert post(client, "traces", encode(traces_request(), PROTOBUF), PROTOBUF, token).status_code == 200
    RegionToken.objects.filter(token_hash=hash_token(token)).update(revoked_at=timezone.now())
    response = post(client, "traces", encode(traces_request(), PROTOBUF), PROTOBUF, token)
    assert response.status_code == 401
    assert rpc_status(response, PROTOBUF).code == code_pb2.UNAUTHENTICATED


# --- 405 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("signal", PATHS)
def test_405_get_with_allow_post(client, token, signal):
    response = client.get(PATHS[signal], headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    status = rpc_status(response, JSON)
    assert status.code == code_pb2.UNIMPLEMENTED
    assert "GET is not allowed" in status.message


def test_405_put_answers_in_the_request_media_type(client, token):
    response = client.generic("PUT", "/v1/traces", encode(traces_request(), PROTOBUF), content_type=PROTOBUF,
                              headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert rpc_status(response, PROTOBUF).code == code_pb2.UNIMPLEMENTED
    assert stored_rows()["telemetry_span"] == 0


# --- 413 -------------------------------------------------------------------------------------

def big_metrics_request(size: int) -> ExportMetricsServiceRequest:
    """A valid request of at least `size` bytes that compresses very well."""
    return metrics_request(resource_metrics(gauge("app.load", time.time_ns(), labels={"padding": "x" * size})))


@BOTH
def test_413_over_the_cap_by_content_length(client, token, settings, media):
    settings.INGEST_MAX_BODY_BYTES = 1024
    body = encode(big_metrics_request(2000), media)
    response = post(client, "metrics", body, media, token)
    assert response.status_code == 413
    status = rpc_status(response, media)
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    assert status.message == f"body of {len(body)} bytes is over the 1024-byte limit"
    assert stored_rows()["telemetry_point"] == 0


@BOTH
def test_413_over_the_cap_after_decompression(client, token, settings, media):
    settings.INGEST_MAX_BODY_BYTES = 1024
    body = gzip.compress(encode(big_metrics_request(50_000), media))
    assert len(body) < 1024
    response = post(client, "metrics", body, media, token, content_encoding="gzip")
    assert response.status_code == 413
    status = rpc_status(response, media)
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    assert "decompressed body is over the 1024-byte limit" in status.message


def test_413_chunked_body_over_the_cap_under_gunicorn(start_web, test_database_url, token):
    """Without Content-Length the cap is enforced while reading the de-chunked stream."""
    base = start_web(DATABASE_URL=test_database_url, INGEST_MAX_BODY_BYTES="2048")
    headers = {"Content-Type": PROTOBUF, "Authorization": f"Bearer {token}"}

    def chunked(body: bytes):
        for i in range(0, len(body), 512):
            yield body[i:i + 512]

    small = requests.post(base + "/v1/metrics", data=chunked(encode(metrics_request(), PROTOBUF)), headers=headers,
                          timeout=30)
    assert small.status_code == 200, small.content
    assert "Content-Length" not in small.request.headers
    large = requests.post(base + "/v1/metrics", data=chunked(encode(big_metrics_request(5000), PROTOBUF)),
                          headers=headers, timeout=30)
    assert large.status_code == 413
    assert "Content-Length" not in large.request.headers
    status = status_pb2.Status()
    status.ParseFromString(large.content)
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    assert status.message == "body is over the 2048-byte limit"
    assert stored_rows()["telemetry_point"] == 1


def test_body_under_the_cap_is_accepted(client, token, settings):
    settings.INGEST_MAX_BODY_BYTES = 4096
    body = encode(big_metrics_request(2000), PROTOBUF)
    assert 2000 < len(body) <= 4096
    export_response(post(client, "metrics", body, PROTOBUF, token), "metrics", PROTOBUF)


# --- 415 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/plain", "application/protobuf", "application/x-www-form-urlencoded", None])
def test_415_unsupported_media_type_answers_json(client, token, content_type):
    response = post(client, "metrics", encode(metrics_request(), PROTOBUF), content_type, token)
    assert response.status_code == 415
    status = rpc_status(response, JSON)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert f"Content-Type {(content_type or 'none')!r} is not supported" in status.message
    assert stored_rows()["telemetry_point"] == 0


def test_media_type_parameters_are_allowed(client, token):
    response = post(client, "metrics", encode(metrics_request(), JSON), "Application/JSON; charset=utf-8", token)
    assert response.status_code == 200
    assert response["Content-Type"] == JSON


@BOTH
def test_415_unsupported_content_encoding_answers_in_the_request_media_type(client, token, media):
    response = post(client, "traces", encode(traces_request(), media), media, token, content_encoding="br")
    assert response.status_code == 415
    status = rpc_status(response, media)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert "Content-Encoding 'br' is not supported" in status.message


# --- 429 -------------------------------------------------------------------------------------

@BOTH
def test_429_with_retry_after_when_the_token_is_over_its_rate(client, token, other_region, settings, media):
    settings.INGEST_RATE_LIMIT_PER_SECOND = 1
    settings.INGEST_RATE_LIMIT_BURST = 1
    assert post(client, "metrics", encode(metrics_request(), media), media, token).status_code == 200
    response = post(client, "metrics", encode(metrics_request(), media), media, token)
    assert response.status_code == 429
    assert response["Retry-After"] == "1"  # one token a second: the next one is at most a second away
    status = rpc_status(response, media)
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    assert "rate limit" in status.message
    # Another token has its own bucket.
    other = issue_token(other_region)
    assert post(client, "metrics", encode(metrics_request(), media), media, other).status_code == 200


# --- 503 -------------------------------------------------------------------------------------

def test_503_with_retry_after_when_the_database_is_unavailable(start_web, token):
    base = start_web(DATABASE_URL="postgres://postgres@127.0.0.1:1/x")
    for signal, media in (("metrics", PROTOBUF), ("traces", JSON)):
        response = requests.post(base + PATHS[signal], data=encode(request_for(signal), media), timeout=30,
                                 headers={"Content-Type": media, "Authorization": f"Bearer {token}"})
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) >= 1
        assert response.headers["Content-Type"] == media
        status = status_pb2.Status()
        if media == PROTOBUF:
            status.ParseFromString(response.content)
        else:
            json_format.Parse(response.content, status)
        assert status.code == code_pb2.UNAVAILABLE
        assert "database unavailable" in status.message


# --- idempotence and region isolation --------------------------------------------------------

def test_resent_batch_does_not_duplicate_rows(client, token):
    now = time.time_ns()
    metrics_body = encode(full_metrics_request(now), PROTOBUF)
    traces_body = encode(traces_request(resource_spans(span("a", 1, now), span("b", 2, now + 5))), JSON)

    def send():
        export_response(post(client, "metrics", metrics_body, PROTOBUF, token), "metrics", PROTOBUF)
        message = export_response(post(client, "traces", traces_body, JSON, token), "traces", JSON)
        assert message.partial_success == ExportTracePartialSuccess()

    send()
    first = stored_rows()
    assert first == {"telemetry_series": 3, "telemetry_point": 3, "telemetry_histogram_point": 1, "telemetry_span": 2}
    send()
    assert stored_rows() == first
    # As if another web process got the retry: no per-process caches.
    views._fingerprints.clear()
    ingest._known_series.clear()
    send()
    assert stored_rows() == first


def test_resent_batch_with_new_points_adds_only_the_new_ones(client, token):
    now = time.time_ns()
    post(client, "metrics", encode(metrics_request(resource_metrics(gauge("app.load", now))), PROTOBUF), PROTOBUF, token)
    both = metrics_request(resource_metrics(gauge("app.load", now, now + SECOND)))
    export_response(post(client, "metrics", encode(both, PROTOBUF), PROTOBUF, token), "metrics", PROTOBUF)
    assert stored_rows()["telemetry_point"] == 2


@BOTH
def test_token_of_one_region_cannot_write_for_another(client, token, region, other_region, media):
    now = time.time_ns()
    metrics = metrics_request(
        resource_metrics(gauge("app.load", now, now - SECOND), **{"cloud.region": "eu-west-1"}),
        resource_metrics(gauge("app.load", now), **{"cloud.region": "us-east-1"}),
    )
    traces = traces_request(resource_spans(span("x", 1, now), span("y", 2, now), **{"cloud.region": "eu-west-1"}))
    m_answer = export_response(post(client, "metrics", encode(metrics, media), media, token), "metrics", media)
    t_answer = export_response(post(client, "traces", encode(traces, media), media, token), "traces", media)
    assert m_answer.partial_success.rejected_data_points == 2
    assert t_answer.partial_success.rejected_spans == 2
    assert "cloud.region 'eu-west-1' is not a region this token may write" in t_answer.partial_success.error_message
    assert count("telemetry_series", "region_id = %s", [other_region.id]) == 0
    assert count("telemetry_span", "region_id = %s", [other_region.id]) == 0
    assert count("telemetry_span") == 0
    assert count("telemetry_series", "region_id = %s", [region.id]) == 1
    other_region.refresh_from_db()
    assert other_region.last_seen_at is None


# --- batches that can never be stored must not be retried forever ----------------------------

def poison_span(now: int, **fields) -> bytes:
    defaults = {"name": "op", "attributes": []}
    defaults.update(fields)
    return encode(traces_request(resource_spans(span(defaults.pop("name"), 1, now, **defaults))), PROTOBUF)


@pytest.mark.parametrize("case", [
    "status code inf",
    "attribute NaN",
    "NUL in span name",
    "NUL in metric name",
    "huge exponential offset",
])
def test_unstorable_batch_is_not_answered_with_a_retryable_error(client, token, case):
    now = time.time_ns()
    if case == "status code inf":
        signal, body = "traces", poison_span(now, attributes=[KeyValue(
            key="http.response.status_code", value=AnyValue(double_value=float("inf")))])
    elif case == "attribute NaN":
        signal, body = "traces", poison_span(now, attributes=[KeyValue(key="ratio", value=AnyValue(
            double_value=float("nan")))])
    elif case == "NUL in span name":
        signal, body = "traces", poison_span(now, name="bad\x00name")
    elif case == "NUL in metric name":
        signal, body = "metrics", encode(metrics_request(resource_metrics(gauge("bad\x00name", now))), PROTOBUF)
    else:
        point = m.ExponentialHistogramDataPoint(time_unix_nano=now, count=1, scale=0,
                                                positive=m.ExponentialHistogramDataPoint.Buckets(offset=5000,
                                                                                                 bucket_counts=[1]))
        metric = m.Metric(name="latency", exponential_histogram=m.ExponentialHistogram(
            aggregation_temporality=m.AGGREGATION_TEMPORALITY_DELTA, data_points=[point]))
        signal, body = "metrics", encode(metrics_request(resource_metrics(metric)), PROTOBUF)
    response = post(client, signal, body, PROTOBUF, token)
    # 200 (stored, or rejected through partial success) or 400; a 503 makes the exporter retry forever.
    assert response.status_code in (200, 400), rpc_status(response, PROTOBUF).message
