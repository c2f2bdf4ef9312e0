"""Hourly rollups from minute rollups: exact combination, incremental runs, retention, the hourly read path."""

from datetime import datetime, timedelta, timezone

import pytest

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token
from observatory.telemetry import downsample, queries, retention
from observatory.telemetry.models import SeriesHour, SeriesMinute, SpanHour, SpanMinute
from observatory.telemetry.rollups import roll_up_pending

from .test_rollups import counter_request, gauge_request, post

HOUR0 = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


@pytest.fixture
def token(transactional_db):
    return issue_token(Region.objects.create(name="us-east-1"))


def test_hours_combine_minutes_exactly_and_runs_only_redo_touched_hours(client, token, monkeypatch):
    monkeypatch.setattr(downsample, "OVERLAP", timedelta(0))  # the safety re-read would blur the counts
    boot = HOUR0 - timedelta(hours=1)
    gauge = [(HOUR0 + timedelta(minutes=m, seconds=5), v) for m, v in ((0, 4), (1, 9), (59, 2), (60, 7), (61, 1))]
    counter = [(HOUR0 + timedelta(minutes=m, seconds=5), v, boot) for m, v in ((0, 10), (30, 25), (59, 40),
                                                                                  (61, 45))]
    post(client, token, "/v1/metrics", gauge_request(gauge))
    post(client, token, "/v1/metrics", counter_request(counter))
    roll_up_pending()
    assert downsample.downsample() == 4  # two hours x two series
    hours = {(h.series_id, h.hour): h for h in SeriesHour.objects.all()}
    gauge_id = SeriesMinute.objects.filter(series__name="observatory.queue.backlog").values_list(
        "series_id", flat=True).first()
    first = hours[(gauge_id, HOUR0)]
    assert (first.samples, first.minimum, first.maximum, first.total, first.last) == (3, 2, 9, 15, 2)
    second = hours[(gauge_id, HOUR0 + timedelta(hours=1))]
    assert (second.samples, second.minimum, second.maximum, second.last) == (2, 1, 7, 1)
    counter_id = SeriesMinute.objects.filter(series__name="app.requests").values_list("series_id", flat=True).first()
    minute_increase = sum(SeriesMinute.objects.filter(series_id=counter_id, minute__lt=HOUR0 + timedelta(hours=1))
                          .values_list("increase", flat=True))
    assert hours[(counter_id, HOUR0)].increase == pytest.approx(minute_increase)

    assert downsample.downsample() == 0  # nothing new: nothing recomputed
    post(client, token, "/v1/metrics", gauge_request([(HOUR0 + timedelta(minutes=62, seconds=5), 30)]))
    roll_up_pending()
    assert downsample.downsample() == 1  # only the touched hour of the touched series
    assert SeriesHour.objects.get(series_id=gauge_id, hour=HOUR0 + timedelta(hours=1)).maximum == 30

    # Whole-hour steps read the hourly rows: here the gauge's hourly means.
    [series] = queries.query_series("observatory.queue.backlog", HOUR0, HOUR0 + timedelta(hours=2), 3600)
    assert series.points == [(HOUR0, 5.0), (HOUR0 + timedelta(hours=1), pytest.approx(38 / 3))]


def test_span_hours_sum_the_minutes(client, token):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1 import trace_pb2

    from .test_rollups import kv, ns

    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add()
    spans.resource.attributes.append(kv("service.name", "checkout"))
    scope = spans.scope_spans.add()
    for i, (minute, failed) in enumerate([(0, False), (10, True), (59, False), (60, False)], start=1):
        start = HOUR0 + timedelta(minutes=minute, seconds=1)
        span = scope.spans.add(trace_id=bytes(16 * [i]), span_id=bytes(8 * [i]), name="GET /pay",
                               kind=trace_pb2.Span.SPAN_KIND_SERVER, start_time_unix_nano=ns(start),
                               end_time_unix_nano=ns(start) + 20_000_000)
        if failed:
            span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    post(client, token, "/v1/traces", request)
    roll_up_pending()
    downsample.downsample()
    first = SpanHour.objects.get(hour=HOUR0)
    assert (first.requests, first.errors) == (3, 1) and sum(first.latency_buckets) == 3
    assert first.duration_sum_ms == pytest.approx(sum(SpanMinute.objects.filter(
        minute__lt=HOUR0 + timedelta(hours=1)).values_list("duration_sum_ms", flat=True)))
    assert SpanHour.objects.get(hour=HOUR0 + timedelta(hours=1)).requests == 1


@pytest.mark.django_db(transaction=True)
def test_hourly_rollups_outlive_minute_rollups_until_their_own_retention(settings):
    settings.ROLLUP_RETENTION_DAYS, settings.HOURLY_RETENTION_DAYS = 35, 400
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    # Hourly rows go by whole monthly partitions: 440 days old is in a month wholly past 400 days.
    for age in (36, 399, 440):
        SeriesHour.objects.create(series_id=1, hour=now - timedelta(days=age), samples=1, minimum=1, maximum=1,
                                  total=1, last=1)
    retention.maintain()
    assert sorted((now - h).days for h in SeriesHour.objects.values_list("hour", flat=True)) == [36, 399]
