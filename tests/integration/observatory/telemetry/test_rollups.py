import time
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token
from observatory.telemetry.models import DirtyMinute, SeriesMinute, SpanMinute
from observatory.telemetry.rollups import LATENCY_BOUNDS_MS, roll_up_pending

NOW_MINUTE = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=5)


def ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 10**9 + dt.microsecond * 1000


def kv(key, value):
    item = KeyValue(key=key)
    item.value.string_value = value
    return item


def counter_request(points, name="app.requests", start=None):
    """points: [(datetime, value, start datetime)] of one cumulative monotonic sum."""
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name=name)
    request.resource_metrics[0].resource.attributes.append(kv("service.name", "checkout"))
    metric.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    metric.sum.is_monotonic = True
    for at, value, started in points:
        point = metric.sum.data_points.add(time_unix_nano=ns(at), start_time_unix_nano=ns(started), as_double=value)
        point.attributes.append(kv("route", "/pay"))
    return request


def gauge_request(points, name="observatory.queue.backlog"):
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name=name)
    for at, value in points:
        point = metric.gauge.data_points.add(time_unix_nano=ns(at), as_int=value)
        point.attributes.append(kv("queue", "orders"))
    return request


def post(client, token, path, message):
    response = client.post(path, message.SerializeToString(), content_type="application/x-protobuf",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return response


@pytest.fixture
def region(transactional_db):
    return Region.objects.create(name="us-east-1")


@pytest.fixture
def token(region):
    return issue_token(region)


def test_counter_increase_per_minute_handles_resets(client, token):
    boot = NOW_MINUTE - timedelta(hours=1)
    restart = NOW_MINUTE + timedelta(minutes=1, seconds=20)
    m0, m1 = NOW_MINUTE, NOW_MINUTE + timedelta(minutes=1)
    post(client, token, "/v1/metrics", counter_request([
        (m0 + timedelta(seconds=10), 100, boot), (m0 + timedelta(seconds=40), 130, boot),
        (m1 + timedelta(seconds=10), 150, boot),
        (m1 + timedelta(seconds=30), 5, restart), (m1 + timedelta(seconds=50), 12, restart),
    ]))
    assert set(DirtyMinute.objects.values_list("minute", flat=True)) == {m0, m1}
    assert roll_up_pending() == 2
    assert not DirtyMinute.objects.exists()
    rollups = {r.minute: r for r in SeriesMinute.objects.all()}
    assert rollups[m0].increase == 30  # the first sample only anchors: its baseline is unknown
    assert rollups[m1].increase == 20 + 5 + 7  # 130->150, restart at 5, 5->12
    assert (rollups[m1].samples, rollups[m1].minimum, rollups[m1].maximum, rollups[m1].last) == (3, 5, 150, 12)


def test_late_data_marks_the_minute_again_and_recompute_is_idempotent(client, token):
    m0 = NOW_MINUTE
    post(client, token, "/v1/metrics", gauge_request([(m0 + timedelta(seconds=5), 10)]))
    roll_up_pending()
    post(client, token, "/v1/metrics", gauge_request([(m0 + timedelta(seconds=35), 30)]))
    assert DirtyMinute.objects.count() == 1
    roll_up_pending()
    roll_up_pending()  # nothing left: no change
    [rollup] = SeriesMinute.objects.all()
    assert (rollup.samples, rollup.total, rollup.last, rollup.increase) == (2, 40, 30, None)


def test_span_red_rollup_counts_server_spans_errors_and_latency_buckets(client, token):
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.append(kv("service.name", "checkout"))
    spans = resource.scope_spans.add()
    start = NOW_MINUTE + timedelta(seconds=1)
    for i, (duration_ms, error, kind) in enumerate([(3, False, 2), (40, True, 2), (40, False, 2), (20000, False, 2),
                                                     (7, False, 3)]):
        span = spans.spans.add(trace_id=bytes([1] * 15 + [i + 1]), span_id=bytes([2] * 7 + [i + 1]), name="POST /pay",
                               kind=kind, start_time_unix_nano=ns(start),
                               end_time_unix_nano=ns(start) + duration_ms * 10**6)
        if error:
            span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    post(client, token, "/v1/traces", request)
    roll_up_pending()
    [rollup] = SpanMinute.objects.all()
    assert (rollup.service, rollup.operation, rollup.minute) == ("checkout", "POST /pay", NOW_MINUTE)
    assert (rollup.requests, rollup.errors, rollup.duration_sum_ms) == (4, 1, 20083)
    expected = [0] * (len(LATENCY_BOUNDS_MS) + 1)
    expected[0] = 1  # 3 ms <= 5
    expected[LATENCY_BOUNDS_MS.index(50)] = 2  # 40 ms in (25, 50]
    expected[-1] = 1  # 20 s beyond the last bound
    assert rollup.latency_buckets == expected


def test_rollup_cost_follows_new_minutes_not_history(client, token):
    # Ten old minutes already rolled up; one new point makes exactly one minute of work.
    post(client, token, "/v1/metrics", gauge_request(
        [(NOW_MINUTE - timedelta(minutes=m), m) for m in range(1, 11)]))
    assert roll_up_pending() == 10
    post(client, token, "/v1/metrics", gauge_request([(NOW_MINUTE + timedelta(seconds=3), 99)]))
    assert roll_up_pending() == 1


def test_rollup_task_runs_in_a_real_worker(client, token, celery_worker):
    from observatory.telemetry.tasks import roll_up_minutes

    post(client, token, "/v1/metrics", gauge_request([(NOW_MINUTE + timedelta(seconds=3), 7)]))
    roll_up_minutes.delay()
    deadline = time.monotonic() + 30
    while not SeriesMinute.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    [rollup] = SeriesMinute.objects.all()
    assert rollup.last == 7
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_dirty_minute")
        assert cursor.fetchone()[0] == 0
