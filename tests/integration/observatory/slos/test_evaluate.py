"""Spans pushed over OTLP with a known error ratio become burn rates and a firing page tier."""

from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from observatory.failover.evaluate import fast_burning_slos
from observatory.regions.models import Region
from observatory.regions.tokens import issue_token
from observatory.slos import evaluate
from observatory.slos.models import SliMinute, Slo, SloStatus, WindowState
from observatory.telemetry.rollups import roll_up_pending

FIVE_MIN, ONE_HOUR, THIRTY_DAYS = "300", "3600", str(30 * 86400)


def spans(minute: datetime, requests: int, errors: int, service="checkout", seed=0) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.append(KeyValue(key="service.name"))
    resource.resource.attributes[0].value.string_value = service
    scope = resource.scope_spans.add()
    start = int(minute.timestamp() * 1e9) + 10**9
    for i in range(requests):
        span = scope.spans.add(trace_id=(seed * 100000 + i + 1).to_bytes(16, "big"), span_id=(i + 1).to_bytes(8, "big"),
                               name="POST /pay", kind=trace_pb2.Span.SPAN_KIND_SERVER,
                               start_time_unix_nano=start + i * 1000, end_time_unix_nano=start + i * 1000 + 20 * 10**6)
        if i < errors:
            span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    return request


def push(client, token, request):
    response = client.post("/v1/traces", request.SerializeToString(), content_type="application/x-protobuf",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content


@pytest.fixture
def regions(transactional_db):
    east = Region.objects.create(name="us-east-1")
    west = Region.objects.create(name="eu-west-1")
    return {"east": (east, issue_token(east)), "west": (west, issue_token(west))}


@pytest.fixture
def slo(transactional_db):
    return Slo.objects.create(name="checkout-availability", service="checkout", objective=0.99, kind="availability",
                              min_events=10)


def established(slo, *regions) -> None:
    """Each region has reported for three days: one good event 71 hours ago, outside every window a test
    looks at but the 3d tier's, so the windows count as covered by history."""
    for region in regions:
        SliMinute.objects.create(slo=slo, region=region, minute=minute_ago(71 * 60), good=1, total=1)


def minute_ago(n: int) -> datetime:
    return (datetime.now(timezone.utc) - timedelta(minutes=n)).replace(second=0, microsecond=0)


def status(slo, region=None):
    return SloStatus.objects.get(slo=slo, region=region)


def test_known_error_ratio_gives_burn_rates_and_a_page(client, regions, slo):
    east, east_token = regions["east"]
    west, west_token = regions["west"]
    established(slo, east, west)
    for n in range(1, 4):
        push(client, east_token, spans(minute_ago(n), requests=100, errors=30, seed=n))  # 30% errors
        push(client, west_token, spans(minute_ago(n), requests=300, errors=0, seed=10 + n))  # all good
    roll_up_pending()
    evaluate.run_cycle()

    east_status = status(slo, east)
    assert east_status.burn_rates[FIVE_MIN] == pytest.approx(30.0)  # 0.30 / 0.01
    assert east_status.burn_rates[ONE_HOUR] == pytest.approx(30.0)
    assert east_status.page and [t["tier"] for t in east_status.tiers if t["firing"] and not t["inhibited"]] == ["1h"]
    assert status(slo, west).burn_rates[ONE_HOUR] == 0 and not status(slo, west).page
    global_status = status(slo, None)
    assert global_status.burn_rates[ONE_HOUR] == pytest.approx(90 / 1200 / 0.01)  # summed, not averaged: 7.5
    # 7.5x is under the 1h tier's 14.4x but over the 6h tier's 6x: the slower page fires.
    assert global_status.page
    assert [t["tier"] for t in global_status.tiers if t["firing"] and not t["inhibited"]] == ["6h"]
    assert global_status.budget_remaining == pytest.approx(1 - 90 / (0.01 * 1202))  # 2 events of history
    assert fast_burning_slos() == {east.id: ("checkout-availability",)}


def test_short_history_does_not_burn_like_full_windows(client, regions, slo):
    """Ten minutes of a new region at 5% errors (burn 5 at 99%): over the 1d tier's 3x, but that is ten
    minutes, not a day. Scaled by the share of each window the history covers, no tier fires; with a month
    of history behind the same ten minutes, the 1d ticket does."""
    east, token = regions["east"]
    west, west_token = regions["west"]
    for n in range(1, 11):
        push(client, token, spans(minute_ago(n), requests=100, errors=5, seed=n))
        push(client, west_token, spans(minute_ago(n), requests=100, errors=5, seed=20 + n))
    established(slo, west)
    roll_up_pending()
    evaluate.run_cycle()

    new = status(slo, east)
    assert new.burn_rates[ONE_HOUR] == pytest.approx(5.0)  # the burn itself is reported as measured
    assert not new.page and not new.ticket
    day = new.tiers[2]
    assert day["tier"] == "1d" and not day["firing"]
    assert day["coverage"] == pytest.approx(11 / 1440)  # data since 10 minutes ago, as of this minute
    assert WindowState.objects.get(slo=slo, region=east).data_since == minute_ago(10)
    old = status(slo, west)
    assert old.ticket and [t["tier"] for t in old.tiers if t["firing"] and not t["inhibited"]] == ["1d"]


def test_min_events_guard_downgrades_a_quiet_region(client, regions, slo):
    slo.min_events = 1000
    slo.save()
    east, token = regions["east"]
    established(slo, east)
    push(client, token, spans(minute_ago(1), requests=20, errors=10))
    roll_up_pending()
    evaluate.run_cycle()
    east_status = status(slo, east)
    assert not east_status.page and east_status.ticket
    assert east_status.tiers[0]["downgraded"] is True


def test_incremental_windows_equal_a_full_recompute(client, regions, slo):
    east, token = regions["east"]
    push(client, token, spans(minute_ago(3), requests=50, errors=5, seed=1))
    roll_up_pending()
    evaluate.run_cycle()
    push(client, token, spans(minute_ago(2), requests=40, errors=0, seed=2))
    push(client, token, spans(minute_ago(3), requests=10, errors=10, seed=3))  # late data for an old minute
    roll_up_pending()
    evaluate.run_cycle()
    state = WindowState.objects.get(slo=slo, region=east)
    rebuilt = evaluate._rebuild(slo, east.id, state.as_of)
    for window, counts in rebuilt.items():
        assert state.sums[str(int(window.total_seconds()))] == [counts.good, counts.total]
    assert state.sums[ONE_HOUR] == [85.0, 100.0]
    assert SliMinute.objects.filter(slo=slo, region=east).count() == 2


@pytest.mark.django_db
def test_slos_apply_from_config_with_detection_time(tmp_path):
    import io

    path = tmp_path / "o.yaml"
    path.write_text("slos:\n  checkout: {service: checkout, objective: 0.999, sli: {kind: availability}}\n")
    out = io.StringIO()
    call_command("apply", str(path), stdout=out)
    assert "slo checkout: created (a total outage pages after 52s)" in out.getvalue()
    assert Slo.objects.get(name="checkout").objective == 0.999


def test_burn_rates_and_budget_are_prometheus_gauges(client, regions, slo):
    from prometheus_client.parser import text_string_to_metric_families

    east, token = regions["east"]
    push(client, token, spans(minute_ago(1), requests=100, errors=30))
    roll_up_pending()
    evaluate.run_cycle()
    text = client.get("/metrics").content.decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    key = ("observatory_slo_burn_rate", (("region", "us-east-1"), ("slo", "checkout-availability"), ("window", "1h")))
    assert samples[key] == pytest.approx(30.0)
    assert ("observatory_slo_burn_rate", (("region", "global"), ("slo", "checkout-availability"),
                                          ("window", "30d"))) in samples
    budget = ("observatory_slo_budget_remaining", (("region", "us-east-1"), ("slo", "checkout-availability")))
    assert samples[budget] == pytest.approx(1 - 30 / (0.01 * 100))
    assert samples[("observatory_db_gauges_up", ())] == 1


def test_slos_api_lists_global_then_regional_status(client, regions, slo):
    from django.contrib.auth import get_user_model

    east, token = regions["east"]
    established(slo, east)
    push(client, token, spans(minute_ago(1), requests=100, errors=30))
    roll_up_pending()
    evaluate.run_cycle()
    client.force_login(get_user_model().objects.create_user("viewer", password="a-long-password-42"))
    [listed] = client.get("/api/v1/slos").json()
    assert listed["name"] == "checkout-availability"
    assert [s["region"] for s in listed["scopes"]] == [None, "us-east-1"]
    assert listed["scopes"][1]["page"] is True
