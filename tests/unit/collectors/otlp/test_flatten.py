"""flatten_metrics / flatten_spans: decoded requests to storage rows, with rejections counted."""

import math
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1 import trace_pb2 as t

from collectors.otlp.flatten import (
    GAUGE, HISTOGRAM, MAX_MESSAGES, SUM, TEMPORALITY_CUMULATIVE, TEMPORALITY_DELTA, RegionResolver, Rejections,
    Window, exponential_to_explicit, flatten_metrics, flatten_spans,
)
from tests.conftest import ROOT

NOW = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z
NOW_DT = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
SECOND = 10**9
WINDOW = Window(NOW - 3600 * SECOND, NOW + 300 * SECOND)
REGION_ID = 7
RESOLVER = RegionResolver({"us-east-1": REGION_ID}, REGION_ID)
CUMULATIVE = m.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = m.AGGREGATION_TEMPORALITY_DELTA
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_ID = bytes.fromhex("0102030405060708")


# --- builders --------------------------------------------------------------------------------

def any_value(value) -> AnyValue:
    if isinstance(value, AnyValue):
        return value
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=attrs(value)))
    return AnyValue(string_value=value)


def attrs(mapping: dict | list) -> list[KeyValue]:
    pairs = mapping.items() if isinstance(mapping, dict) else mapping
    return [KeyValue(key=k, value=any_value(v)) for k, v in pairs]


def number(value=1.0, time=NOW, attributes=(), start=0) -> m.NumberDataPoint:
    point = m.NumberDataPoint(time_unix_nano=time, start_time_unix_nano=start, attributes=attrs(attributes))
    if isinstance(value, int):
        point.as_int = value
    else:
        point.as_double = value
    return point


def gauge(name, *points, unit="") -> m.Metric:
    return m.Metric(name=name, unit=unit, gauge=m.Gauge(data_points=points or [number()]))


def total(name, *points, temporality=CUMULATIVE, monotonic=True) -> m.Metric:
    return m.Metric(name=name, sum=m.Sum(data_points=points or [number()], aggregation_temporality=temporality,
                                         is_monotonic=monotonic))


def resource_metrics(*metrics, resource=None) -> m.ResourceMetrics:
    return m.ResourceMetrics(resource=Resource(attributes=attrs(resource or {"service.name": "checkout"})),
                             scope_metrics=[m.ScopeMetrics(metrics=metrics)])


def metrics_request(*metrics, resource=None) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest(resource_metrics=[resource_metrics(*metrics, resource=resource)])


def span(name="op", trace_id=TRACE_ID, span_id=SPAN_ID, start=NOW, end=NOW + 250_000_000, attributes=None,
         **fields) -> t.Span:
    return t.Span(name=name, trace_id=trace_id, span_id=span_id, start_time_unix_nano=start, end_time_unix_nano=end,
                  attributes=attrs(attributes or {}), **fields)


def spans_request(*spans, resource=None) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[t.ResourceSpans(
        resource=Resource(attributes=attrs(resource or {"service.name": "checkout"})),
        scope_spans=[t.ScopeSpans(spans=spans)])])


def flatten(*metrics, resource=None, cache=None, resolver=RESOLVER, window=WINDOW):
    return flatten_metrics(metrics_request(*metrics, resource=resource), resolver, window, cache)


def only_series(rows):
    [series] = rows.series.values()
    return series


def fingerprint_of(metric, resource=None, cache=None, region_id=REGION_ID) -> int:
    rows = flatten(metric, resource=resource, cache=cache, resolver=RegionResolver({"r": region_id}, region_id))
    return only_series(rows).fingerprint


def one_span_row(*spans_, resource=None):
    rows = flatten_spans(spans_request(*spans_, resource=resource), RESOLVER, WINDOW)
    assert rows.rejected.count == 0, rows.rejected.messages
    [row] = rows.spans
    return row


def rejection(rows) -> tuple[int, list[str]]:
    return rows.rejected.count, rows.rejected.messages


# --- gauges and sums -------------------------------------------------------------------------

def test_gauge_point_and_series():
    rows = flatten(gauge("observatory.replication.lag", number(4.5, attributes={"peer.region": "eu-west-1"}), unit="s"),
                   resource={"service.name": "checkout", "cloud.region": "us-east-1"})
    series = only_series(rows)
    assert (series.region_id, series.name, series.kind, series.unit, series.service) == (
        REGION_ID, "observatory.replication.lag", GAUGE, "s", "checkout")
    assert series.resource == {"cloud.region": "us-east-1", "service.name": "checkout"}
    assert series.attributes == {"peer.region": "eu-west-1"}
    assert rows.points == [(series.fingerprint, NOW_DT, None, 4.5)]
    assert rows.histograms == [] and rows.rejected.count == 0
    assert rows.region_ids == {REGION_ID}


def test_integer_values_become_floats_and_start_time_is_kept():
    rows = flatten(gauge("g", number(42, start=NOW - 10 * SECOND)))
    [(_, time, start, value)] = rows.points
    assert (time, value) == (NOW_DT, 42.0) and isinstance(value, float)
    assert (NOW_DT - start).total_seconds() == 10


def test_service_defaults_to_unknown_service():
    assert only_series(flatten(gauge("g"), resource={"host.name": "a"})).service == "unknown_service"


@pytest.mark.parametrize(("temporality", "stored"), [(CUMULATIVE, TEMPORALITY_CUMULATIVE), (DELTA, TEMPORALITY_DELTA)])
def test_sum_keeps_temporality_and_monotonicity(temporality, stored):
    rows = flatten(total("app.requests", number(7, time=NOW), number(9, time=NOW + SECOND), temporality=temporality))
    series = only_series(rows)
    assert (series.kind, series.temporality, series.monotonic) == (SUM, stored, True)
    assert [p[3] for p in rows.points] == [7.0, 9.0]
    assert only_series(flatten(total("queue.depth", temporality=temporality, monotonic=False))).monotonic is False


def test_sum_with_unspecified_temporality_is_rejected_whole():
    rows = flatten(total("app.requests", number(1), number(2, time=NOW + 1), temporality=m.AGGREGATION_TEMPORALITY_UNSPECIFIED),
                   gauge("ok"))
    assert rejection(rows) == (2, ["metric 'app.requests': aggregation temporality is unspecified"])
    assert [s.name for s in rows.series.values()] == ["ok"] and len(rows.points) == 1


def test_metric_without_a_name_is_rejected():
    rows = flatten(gauge("", number(1), number(2, time=NOW + 1)))
    assert rejection(rows) == (2, ["metric without a name"])
    assert rows.points == []


def test_metric_without_data_is_skipped_silently():
    rows = flatten(m.Metric(name="empty"), gauge("ok"))
    assert rows.rejected.count == 0 and len(rows.points) == 1


def test_summary_is_rejected_with_a_message():
    summary = m.Metric(name="rpc.latency", summary=m.Summary(data_points=[
        m.SummaryDataPoint(time_unix_nano=NOW, count=3, sum=1.5), m.SummaryDataPoint(time_unix_nano=NOW + 1, count=1)]))
    rows = flatten(summary, gauge("ok"))
    assert rejection(rows) == (2, ["metric 'rpc.latency': summary metrics are not supported; send histograms"])
    assert [s.name for s in rows.series.values()] == ["ok"]


# --- histograms ------------------------------------------------------------------------------

def test_explicit_histogram_row():
    point = m.HistogramDataPoint(time_unix_nano=NOW, start_time_unix_nano=NOW - SECOND, count=6, sum=2.5, min=0.01,
                                 max=1.5, explicit_bounds=[0.1, 1.0], bucket_counts=[1, 3, 2])
    rows = flatten(m.Metric(name="latency", unit="s", histogram=m.Histogram(data_points=[point],
                                                                              aggregation_temporality=DELTA)))
    series = only_series(rows)
    assert (series.kind, series.temporality) == (HISTOGRAM, TEMPORALITY_DELTA)
    [(fp, time, start, count, sum_, min_, max_, bounds, counts)] = rows.histograms
    assert (fp, time, (time - start).total_seconds()) == (series.fingerprint, NOW_DT, 1)
    assert (count, sum_, min_, max_, bounds, counts) == (6, 2.5, 0.01, 1.5, [0.1, 1.0], [1, 3, 2])
    assert rows.points == []


def test_histogram_without_sum_min_max_stores_none():
    point = m.HistogramDataPoint(time_unix_nano=NOW, count=0)
    rows = flatten(m.Metric(name="h", histogram=m.Histogram(data_points=[point], aggregation_temporality=CUMULATIVE)))
    [(_, _, start, count, sum_, min_, max_, bounds, counts)] = rows.histograms
    assert (start, count, sum_, min_, max_, bounds, counts) == (None, 0, None, None, None, [], [])


@pytest.mark.parametrize("bucket_counts", [[1, 2], [1, 2, 3, 4], [5]])
def test_histogram_with_mismatched_bucket_counts_is_rejected(bucket_counts):
    bad = m.HistogramDataPoint(time_unix_nano=NOW, count=sum(bucket_counts), explicit_bounds=[1.0, 2.0],
                               bucket_counts=bucket_counts)
    good = m.HistogramDataPoint(time_unix_nano=NOW + 1, count=3, explicit_bounds=[1.0, 2.0], bucket_counts=[1, 1, 1])
    rows = flatten(m.Metric(name="h", histogram=m.Histogram(data_points=[bad, good], aggregation_temporality=DELTA)))
    assert rejection(rows) == (1, ["metric 'h': bucket counts do not match the bounds"])
    assert [h[8] for h in rows.histograms] == [[1, 1, 1]]


def test_histogram_with_unspecified_temporality_is_rejected():
    rows = flatten(m.Metric(name="h", histogram=m.Histogram(data_points=[m.HistogramDataPoint(time_unix_nano=NOW)])))
    assert rejection(rows) == (1, ["metric 'h': aggregation temporality is unspecified"])


def exp_point(scale, positive=(0, []), negative=(0, []), zero_count=0, zero_threshold=0.0, **fields):
    buckets = m.ExponentialHistogramDataPoint.Buckets
    return m.ExponentialHistogramDataPoint(
        time_unix_nano=NOW, scale=scale, zero_count=zero_count, zero_threshold=zero_threshold,
        positive=buckets(offset=positive[0], bucket_counts=positive[1]),
        negative=buckets(offset=negative[0], bucket_counts=negative[1]), **fields)


def test_exponential_positive_buckets_by_hand():
    # scale -1: base 4; offset 0 -> buckets (1, 4] and (4, 16].
    assert exponential_to_explicit(exp_point(-1, positive=(0, [1, 2]))) == ([4.0, 16.0], [1, 2, 0])


def test_exponential_with_negative_zero_and_positive_buckets_by_hand():
    # scale 0: base 2. negative offset 0: [-2, -1); zero bucket; positive offset 1: (2, 4], (4, 8].
    point = exp_point(0, positive=(1, [3, 5]), negative=(0, [1]), zero_count=2)
    assert exponential_to_explicit(point) == ([-1.0, 0.0, 4.0, 8.0], [1, 2, 3, 5, 0])


def test_exponential_negative_buckets_are_ordered_ascending():
    # scale 0, negative offset 1: bucket 0 is [-4, -2), bucket 1 is [-8, -4).
    bounds, counts = exponential_to_explicit(exp_point(0, negative=(1, [2, 7])))
    assert (bounds, counts) == ([-4.0, -2.0], [7, 2, 0])


def test_exponential_fine_scale_bounds():
    # scale 1: base sqrt(2); offset -2 -> (0.5, 0.7071...], (0.7071..., 1].
    bounds, counts = exponential_to_explicit(exp_point(1, positive=(-2, [4, 1]), zero_count=1, zero_threshold=0.001))
    assert bounds == pytest.approx([0.001, math.sqrt(0.5), 1.0])
    assert counts == [1, 4, 1, 0]


def test_exponential_histogram_is_stored_as_explicit_histogram():
    point = exp_point(0, positive=(1, [3, 5]), negative=(0, [1]), zero_count=2, count=11, sum=30.0, min=-1.5, max=7.0)
    rows = flatten(m.Metric(name="latency", exponential_histogram=m.ExponentialHistogram(
        data_points=[point], aggregation_temporality=DELTA)))
    assert only_series(rows).kind == HISTOGRAM
    [(_, time, _, count, sum_, min_, max_, bounds, counts)] = rows.histograms
    assert (time, count, sum_, min_, max_) == (NOW_DT, 11, 30.0, -1.5, 7.0)
    assert (bounds, counts) == ([-1.0, 0.0, 4.0, 8.0], [1, 2, 3, 5, 0])
    assert sum(counts) == count


def test_exponential_bucket_beyond_float_range_does_not_break_the_batch():
    point = exp_point(0, positive=(5000, [1]), count=1)
    rows = flatten(m.Metric(name="huge", exponential_histogram=m.ExponentialHistogram(
        data_points=[point], aggregation_temporality=DELTA)), gauge("ok"))
    assert len(rows.points) == 1
    assert len(rows.histograms) + rows.rejected.count == 1


# --- the time window -------------------------------------------------------------------------

def test_points_outside_the_window_are_rejected_with_counts_and_messages():
    rows = flatten(gauge("g",
                         number(1, time=WINDOW.earliest_ns - 1),           # too old
                         number(2, time=NOW - 2 * 86400 * SECOND),         # too old again
                         number(3, time=WINDOW.latest_ns + SECOND),        # too far in the future
                         number(4, time=0),                                # missing
                         number(5, time=WINDOW.earliest_ns),               # edges are inside
                         number(6, time=WINDOW.latest_ns)))
    assert [p[3] for p in rows.points] == [5.0, 6.0]
    assert rows.rejected.count == 4
    assert rows.rejected.messages == [
        "g: timestamp 2023-11-14T21:13:19Z is too old (accepted: within the ingest window)",
        "g: timestamp 2023-11-12T22:13:20Z is too old (accepted: within the ingest window)",
        "g: timestamp 2023-11-14T22:18:21Z is too far in the future (accepted: within the ingest window)",
        "g: time_unix_nano is missing",
    ]


def test_histogram_points_outside_the_window_are_rejected():
    point = m.HistogramDataPoint(time_unix_nano=NOW + 600 * SECOND, count=1, explicit_bounds=[], bucket_counts=[1])
    rows = flatten(m.Metric(name="h", histogram=m.Histogram(data_points=[point], aggregation_temporality=DELTA)))
    assert rows.histograms == [] and rows.rejected.count == 1
    assert "too far in the future" in rows.rejected.summary()


# --- regions ---------------------------------------------------------------------------------

def test_resource_claiming_another_region_is_rejected_and_the_rest_kept():
    request = ExportMetricsServiceRequest(resource_metrics=[
        resource_metrics(gauge("a", number(1), number(2, time=NOW + 1)), total("b"),
                         resource={"service.name": "x", "cloud.region": "eu-west-1"}),
        resource_metrics(gauge("c"), resource={"service.name": "y", "cloud.region": "us-east-1"}),
    ])
    rows = flatten_metrics(request, RESOLVER, WINDOW)
    assert rejection(rows) == (3, ["cloud.region 'eu-west-1' is not a region this token may write (us-east-1)"])
    assert [(s.name, s.region_id) for s in rows.series.values()] == [("c", REGION_ID)]
    assert rows.region_ids == {REGION_ID}


def test_spans_claiming_another_region_are_rejected():
    rows = flatten_spans(spans_request(span(), span(span_id=PARENT_ID), resource={"cloud.region": "eu-west-1"}),
                         RESOLVER, WINDOW)
    assert rows.spans == [] and rows.region_ids == set()
    assert rejection(rows) == (2, ["cloud.region 'eu-west-1' is not a region this token may write (us-east-1)"])


def test_non_string_cloud_region_is_rejected():
    rows = flatten(gauge("g"), resource={"cloud.region": 1})
    assert rows.points == [] and rows.rejected.count == 1
    assert "cloud.region 1 is not a region" in rows.rejected.summary()


def test_resolver_with_several_regions_and_no_default():
    resolver = RegionResolver({"us-east-1": 1, "eu-west-1": 2}, None)
    rejected = Rejections()
    assert resolver.resolve((("cloud.region", "eu-west-1"),), rejected, 3) == 2
    assert resolver.resolve((("service.name", "x"),), rejected, 4) is None
    assert resolver.resolve((("cloud.region", "ap-south-1"),), rejected, 5) is None
    assert rejected.count == 9
    assert rejected.messages == [
        "resource has no cloud.region and the token serves several regions",
        "cloud.region 'ap-south-1' is not a region this token may write (eu-west-1, us-east-1)",
    ]


def test_resolver_uses_the_default_without_cloud_region():
    rejected = Rejections()
    assert RESOLVER.resolve((("service.name", "x"),), rejected, 1) == REGION_ID
    assert rejected.count == 0


# --- series fingerprints ---------------------------------------------------------------------

def test_fingerprint_is_stable_across_calls_and_caches():
    metric = gauge("g", number(1, attributes={"route": "/pay", "code": 200}))
    shared = {}
    first = fingerprint_of(metric, cache=shared)
    assert fingerprint_of(metric, cache=shared) == first
    assert fingerprint_of(metric, cache={}) == first
    assert fingerprint_of(metric) == first


def test_fingerprint_is_stable_across_processes():
    code = ("from tests.unit.collectors.otlp.test_flatten import *;"
            "print(fingerprint_of(gauge('g', number(1, attributes={'route': '/pay', 'code': 200}))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == fingerprint_of(gauge("g", number(1, attributes={"route": "/pay", "code": 200})))


def test_fingerprint_ignores_attribute_order():
    one = fingerprint_of(gauge("g", number(1, attributes=[("a", "x"), ("b", 2), ("c", True)])),
                         resource=[("service.name", "s"), ("host.name", "h")])
    other = fingerprint_of(gauge("g", number(1, attributes=[("c", True), ("a", "x"), ("b", 2)])),
                           resource=[("host.name", "h"), ("service.name", "s")])
    assert one == other


def test_fingerprint_ignores_nested_map_order():
    one = fingerprint_of(gauge("g", number(1, attributes={"m": {"a": 1, "b": 2}})))
    assert fingerprint_of(gauge("g", number(1, attributes={"m": {"b": 2, "a": 1}}))) == one


def test_series_differ_by_point_attributes_within_one_request():
    rows = flatten(gauge("g", number(1, attributes={"route": "/a"}), number(2, attributes={"route": "/b"})))
    assert len(rows.series) == 2
    assert len({p[0] for p in rows.points}) == 2


@pytest.mark.parametrize(("one", "other"), [
    (1, "1"),
    (1, 2),
    ("a", "b"),
    (1, True),
    (1, 1.0),
    (0, False),
    ([1, 2], [2, 1]),
    ([1], 1),
    ({"a": 1}, {"a": "1"}),
])
def test_fingerprint_differs_by_attribute_value_and_type(one, other):
    assert fingerprint_of(gauge("g", number(1, attributes={"k": one}))) != \
        fingerprint_of(gauge("g", number(1, attributes={"k": other})))


@pytest.mark.parametrize(("one", "other"), [(1, True), (1, 1.0), (0, False)])
def test_fingerprint_differs_by_type_with_a_shared_cache(one, other):
    shared = {}
    first = fingerprint_of(gauge("g", number(1, attributes={"k": one})), cache=shared)
    assert fingerprint_of(gauge("g", number(1, attributes={"k": other})), cache=shared) != first


def test_points_differing_only_by_value_type_are_different_series():
    rows = flatten(gauge("g", number(1, attributes={"k": 1}), number(2, attributes={"k": True})))
    assert len(rows.series) == 2


def test_fingerprint_tells_a_map_from_an_array_of_pairs():
    assert fingerprint_of(gauge("g", number(1, attributes={"k": {"a": 1}}))) != \
        fingerprint_of(gauge("g", number(1, attributes={"k": [["a", 1]]})))


def test_fingerprint_tells_bytes_from_their_hex_string():
    assert fingerprint_of(gauge("g", number(1, attributes={"k": b"\x01"}))) != \
        fingerprint_of(gauge("g", number(1, attributes={"k": "01"})))


def test_fingerprint_differs_by_region_resource_name_and_kind():
    base = fingerprint_of(gauge("g"))
    assert fingerprint_of(gauge("g"), region_id=REGION_ID + 1) != base
    assert fingerprint_of(gauge("g"), resource={"service.name": "other"}) != base
    assert fingerprint_of(gauge("h")) != base
    assert fingerprint_of(total("g")) != base


# --- spans -----------------------------------------------------------------------------------

def test_span_row():
    row = one_span_row(span("POST /pay", parent_span_id=PARENT_ID, kind=t.Span.SPAN_KIND_SERVER,
                            status=t.Status(code=t.Status.STATUS_CODE_ERROR, message="upstream down"),
                            attributes={"http.route": "/pay", "http.response.status_code": 503, "retry": True,
                                        "tags": ["a", "b"], "raw": b"\xbe\xef"}),
                       resource={"service.name": "checkout"})
    assert row == (REGION_ID, TRACE_ID, SPAN_ID, PARENT_ID, "checkout", "POST /pay", 2, 2, "upstream down", NOW_DT,
                   250.0, "/pay", 503,
                   {"http.route": "/pay", "http.response.status_code": 503, "retry": True, "tags": ["a", "b"],
                    "raw": "beef"})


def test_root_span_has_no_parent_and_zero_duration_is_fine():
    row = one_span_row(span(end=NOW))
    assert row[3] is None and row[10] == 0.0


@pytest.mark.parametrize(("fields", "message"), [
    ({"trace_id": bytes(16)}, "span 'op': trace_id must be 16 bytes and not all zero"),
    ({"trace_id": TRACE_ID[:15]}, "span 'op': trace_id must be 16 bytes and not all zero"),
    ({"trace_id": b""}, "span 'op': trace_id must be 16 bytes and not all zero"),
    ({"span_id": bytes(8)}, "span 'op': span_id must be 8 bytes and not all zero"),
    ({"span_id": SPAN_ID[:7]}, "span 'op': span_id must be 8 bytes and not all zero"),
    ({"span_id": SPAN_ID + b"\x01"}, "span 'op': span_id must be 8 bytes and not all zero"),
    ({"end": NOW - 1}, "span 'op': end_time_unix_nano is before start_time_unix_nano"),
    ({"start": 0, "end": 0}, "span 'op': time_unix_nano is missing"),
    ({"start": NOW - 7200 * SECOND, "end": NOW}, "span 'op': timestamp 2023-11-14T20:13:20Z is too old"),
    ({"start": NOW + 600 * SECOND, "end": NOW + 601 * SECOND}, "span 'op': timestamp 2023-11-14T22:23:20Z is too far"),
])
def test_invalid_spans_are_rejected_and_valid_ones_kept(fields, message):
    good = span("good", span_id=PARENT_ID)
    rows = flatten_spans(spans_request(span(**fields), good), RESOLVER, WINDOW)
    assert [row[5] for row in rows.spans] == ["good"]
    assert rows.rejected.count == 1
    [got] = rows.rejected.messages
    assert got.startswith(message)


@pytest.mark.parametrize(("attributes", "route", "status"), [
    ({"http.route": "/pay", "http.response.status_code": 200}, "/pay", 200),
    ({"http.status_code": 404}, None, 404),
    ({"http.status_code": "404"}, None, 404),
    ({"http.response.status_code": "502"}, None, 502),
    ({"http.response.status_code": 503.0}, None, 503),
    ({"http.response.status_code": 99}, None, None),
    ({"http.response.status_code": 600}, None, None),
    ({"http.response.status_code": "teapot"}, None, None),
    ({"http.response.status_code": True}, None, None),
    ({"http.response.status_code": [200]}, None, None),
    ({"http.response.status_code": float("nan")}, None, None),
    ({"http.route": 5}, None, None),
    ({"http.url": "/pay", "status_code": 200}, None, None),
])
def test_hot_columns(attributes, route, status):
    row = one_span_row(span(attributes=attributes))
    assert (row[11], row[12]) == (route, status)
    assert row[13].keys() == attributes.keys()


def test_infinite_status_code_attribute_does_not_break_the_batch():
    row = one_span_row(span(attributes={"http.response.status_code": float("inf")}))
    assert row[12] is None


# --- rejections ------------------------------------------------------------------------------

def test_rejections_keep_five_distinct_messages_but_count_all():
    rejected = Rejections()
    for i in range(8):
        rejected.add(2, f"problem {i}")
    rejected.add(1, "problem 0")
    assert rejected.count == 17
    assert rejected.messages == [f"problem {i}" for i in range(MAX_MESSAGES)]
    assert MAX_MESSAGES == 5
    assert rejected.summary() == "problem 0; problem 1; problem 2; problem 3; problem 4"


def test_rejections_do_not_repeat_a_message():
    rejected = Rejections()
    for _ in range(3):
        rejected.add(1, "same")
    rejected.add(1, "other")
    assert (rejected.count, rejected.summary()) == (4, "same; other")


def test_many_bad_points_in_one_request_are_all_counted():
    points = [number(i, time=NOW + (400 + i) * SECOND) for i in range(10)]
    rows = flatten(gauge("g", *points))
    assert rows.rejected.count == 10
    assert len(rows.rejected.messages) == MAX_MESSAGES
