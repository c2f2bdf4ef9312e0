"""The failover JSON API: who may act, what each action needs, and the audit it leaves."""

import pytest
from django.contrib.auth import get_user_model

from observatory.failover.models import AuditEntry, Decision


@pytest.fixture
def viewer(transactional_db):
    return get_user_model().objects.create_user("viewer", password="a-long-password-42")


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_regions_endpoint_shows_state_and_signals(world, client, viewer):
    world.probe_round(4)
    world.partition("eu-west-1", "us-east-1")
    client.force_login(viewer)
    regions = {r["name"]: r for r in client.get("/api/v1/regions").json()}
    assert regions["us-east-1"]["state"] == "healthy"
    assert regions["us-east-1"]["probe"]["successes"] == 4
    assert {"signal": "observatory.network.partition", "key": "us-east-1", "value": 1.0} == {
        k: v for k, v in regions["eu-west-1"]["signals"][-1].items() if k != "observed_at"}


def test_viewer_cannot_act(world, client, viewer):
    client.force_login(viewer)
    response = post(client, "/api/v1/failovers", {"group": "storefront", "target": "eu-west-1", "reason": "drill"})
    assert response.status_code == 403
    assert "failover.operate_failover" in response.json()["detail"]
    assert not Decision.objects.exists()


def test_manual_failover_needs_a_reason_and_is_audited(world, client, operator, webhook_receiver):
    world.probe_round(4)
    client.force_login(operator)
    missing = post(client, "/api/v1/failovers", {"group": "storefront", "target": "eu-west-1", "reason": ""})
    assert missing.status_code == 422
    response = post(client, "/api/v1/failovers", {"group": "storefront", "target": "eu-west-1",
                                                   "reason": "game day drill"})
    assert response.status_code == 201, response.content
    decision = response.json()
    assert (decision["state"], decision["manual"], decision["requested_by"], decision["reason"]) == (
        "dispatched", True, "oncall", "game day drill")
    [entry] = AuditEntry.objects.all()
    assert (entry.actor, entry.action, entry.reason) == ("oncall", "manual_failover", "game day drill")
    again = post(client, "/api/v1/failovers", {"group": "storefront", "target": "ap-south-1", "reason": "twice"})
    assert again.status_code == 409 and "already has an open decision" in again.json()["detail"]


def test_manual_failover_refuses_unsafe_targets(world, client, operator):
    world.probe_round(4)
    client.force_login(operator)
    for target, message in [("us-east-1", "already the active region"), ("mars-1", "not a region of group")]:
        response = post(client, "/api/v1/failovers", {"group": "storefront", "target": target, "reason": "x"})
        assert response.status_code == 409 and message in response.json()["detail"]
    world.lag("eu-west-1", 600.0)
    beyond = post(client, "/api/v1/failovers", {"group": "storefront", "target": "eu-west-1", "reason": "x"})
    assert beyond.status_code == 409 and "beyond RPO" in beyond.json()["detail"]
    accepted = post(client, "/api/v1/failovers", {"group": "storefront", "target": "eu-west-1", "reason": "x",
                                                   "accept_data_loss": True})
    assert accepted.status_code == 201 and accepted.json()["accept_data_loss"] is True


def test_abort_tells_the_controller_when_a_command_was_sent(world, client, operator, webhook_receiver):
    from tests.integration.observatory.failover.test_scenarios import deliver_all

    world.probe_round(4)
    client.force_login(operator)
    decision = post(client, "/api/v1/failovers", {"group": "storefront", "target": "eu-west-1",
                                                   "reason": "drill"}).json()
    aborted = post(client, f"/api/v1/failovers/{decision['id']}/abort", {"reason": "wrong region"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "aborted"
    assert post(client, f"/api/v1/failovers/{decision['id']}/abort", {"reason": "again"}).status_code == 409
    deliver_all()
    events = [r["body"]["type"] for r in webhook_receiver.received()]
    assert sorted(events) == ["failover.aborted", "failover.requested"]
    assert [e.action for e in AuditEntry.objects.order_by("at")] == ["manual_failover", "abort"]


def test_retried_callback_is_idempotent(world, client, operator):
    world.probe_round(4)
    client.force_login(operator)
    decision = post(client, "/api/v1/failovers", {"group": "storefront", "target": "eu-west-1",
                                                   "reason": "drill"}).json()
    url = f"/api/v1/failovers/{decision['id']}/callback"
    for _ in range(2):
        response = post(client, url, {"status": "failed", "detail": "DNS API refused"})
        assert response.status_code == 200 and response.json()["state"] == "failed"
    assert post(client, url, {"status": "executed"}).status_code == 409
    listed = client.get("/api/v1/failovers", {"group": "storefront"}).json()
    assert [d["state"] for d in listed] == ["failed"]


def test_api_keys_work_for_actions_even_with_csrf_checks(world, operator):
    from django.test import Client

    from observatory.api.keys import issue_api_key

    world.probe_round(4)
    key = issue_api_key(operator)
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/api/v1/failovers", {"group": "storefront", "target": "eu-west-1", "reason": "drill"},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 201, response.content
    strict.force_login(operator)
    no_token = strict.post(f"/api/v1/failovers/{response.json()['id']}/abort", {"reason": "x"},
                           content_type="application/json")
    assert no_token.status_code == 403  # a browser session still needs its CSRF token


def test_probes_keep_their_cadence(world):
    from datetime import timedelta

    from observatory.failover import probes
    from observatory.failover.models import RegionHealth

    world.probe_round(1)
    first = RegionHealth.objects.get(region__name="us-east-1").next_probe_at
    later = first + timedelta(seconds=0.9)  # the tick that notices the probe is due comes a bit late
    assert probes.claim_due(later) != []
    assert RegionHealth.objects.get(region__name="us-east-1").next_probe_at == first + timedelta(seconds=10)
    assert probes.claim_due(later) == []  # claimed once


def test_regions_endpoint_reports_replication_lag_against_rpo(world, client, viewer):
    world.lag("eu-west-1", 45.0)
    client.force_login(viewer)
    regions = {r["name"]: r for r in client.get("/api/v1/regions").json()}
    lag = regions["eu-west-1"]["replication"]["us-east-1"]
    assert (lag["state"], lag["current_seconds"], lag["rpo_seconds"], lag["within_rpo"]) == (
        "over_rpo", 45.0, 30, False)
    assert regions["ap-south-1"]["replication"]["us-east-1"]["state"] == "ok"


def test_lag_history_from_rollups_gives_p95_and_trend(world):
    from datetime import timedelta

    from django.utils import timezone

    from observatory.failover.decide import lag_status
    from observatory.telemetry.models import Series, SeriesMinute

    west = world.regions["eu-west-1"]
    series = Series.objects.create(fingerprint=77, region=west, name="observatory.replication.lag", kind=1,
                                   service="db", attributes={"peer.region": "us-east-1"})
    now = timezone.now().replace(second=0, microsecond=0)
    for minutes_ago, lag in [(4, 5.0), (3, 10.0), (2, 15.0), (1, 20.0)]:
        SeriesMinute.objects.create(series=series, minute=now - timedelta(minutes=minutes_ago), samples=1,
                                    minimum=lag, maximum=lag, total=lag, last=lag)
    world.lag("eu-west-1", 25.0)
    status = lag_status(west, "us-east-1", timezone.now())
    assert status.trend == "rising" and status.current_seconds == 25.0 and status.p95_seconds == 25.0
    assert status.slope > 0 and status.catch_up_seconds is None
