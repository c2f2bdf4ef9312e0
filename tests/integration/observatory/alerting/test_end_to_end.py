"""A region outage reaches on-call as one grouped notification that says so, not one per service."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from observatory.alerting.tasks import run_alerting
from observatory.slos.models import Slo, SloStatus
from tests.integration.observatory.alerting.test_alerting import deliver


def burning(slo_name: str, service: str, region) -> None:
    slo = Slo.objects.create(name=slo_name, service=service, objective=0.999, kind="availability")
    tier = {"tier": "1h", "severity": "page", "threshold": 14.4, "long_burn": 50.0, "short_burn": 60.0,
            "firing": True, "inhibited": False, "downgraded": False}
    now = timezone.now()
    SloStatus.objects.create(slo=slo, region=region, evaluated_at=now, as_of=now, burn_rates={"3600": 50.0},
                             tiers=[tier], budget_remaining=0.5, events=1000, page=True)


def test_region_outage_is_one_grouped_notification(world, oncall, webhook_receiver, settings):
    settings.ALERT_GROUP_WAIT_SECONDS = 0
    world.probe_round(4)
    east = world.regions["us-east-1"]
    burning("checkout-availability", "checkout", east)
    burning("payments-availability", "payments", east)
    world.outage("us-east-1")
    world.probe_round(3)
    assert run_alerting()["notifications"] == 1
    bodies = [b for b in deliver(webhook_receiver) if b.get("version") == "4"]
    assert len(bodies) == 1
    [body] = bodies
    assert body["groupLabels"] == {"alertname": "RegionUnhealthy", "region": "us-east-1"}
    assert body["alerts"][0]["annotations"]["summary"] == "Region us-east-1 is unhealthy"
    assert "probe" in body["alerts"][0]["annotations"]["description"]
    assert run_alerting()["notifications"] == 0  # nothing new to say


def test_alert_and_silence_api(world, oncall, client, settings):
    settings.ALERT_GROUP_WAIT_SECONDS = 0
    world.probe_round(4)
    world.outage("us-east-1")
    world.probe_round(3)
    run_alerting()
    viewer = get_user_model().objects.create_user("viewer", password="a-long-password-42")
    client.force_login(viewer)
    [alert] = client.get("/api/v1/alerts", {"state": "firing", "region": "us-east-1"}).json()
    assert alert["labels"]["alertname"] == "RegionUnhealthy"
    assert client.post(f"/api/v1/alerts/{alert['fingerprint']}/acknowledge").status_code == 403

    operator = get_user_model().objects.create_user("op", password="a-long-password-42")
    operator.user_permissions.add(Permission.objects.get(codename="change_alert"))
    client.force_login(operator)
    acked = client.post(f"/api/v1/alerts/{alert['fingerprint']}/acknowledge").json()
    assert acked["acknowledged_by"] == "op"
    preview = client.post("/api/v1/silences/preview", {"matchers": ['region="us-east-1"'], "comment": "x"},
                          content_type="application/json").json()
    assert [a["fingerprint"] for a in preview] == [alert["fingerprint"]]
    bad = client.post("/api/v1/silences", {"matchers": ['region="us-east-1"'], "comment": " ", "duration_seconds": 60},
                      content_type="application/json")
    assert bad.status_code == 400 and "comment: required" in bad.json()["detail"]
    too_long = client.post("/api/v1/silences", {"matchers": ['region="us-east-1"'], "comment": "x",
                                                 "duration_seconds": 30 * 86400}, content_type="application/json")
    assert too_long.status_code == 400 and "at most" in too_long.json()["detail"]
    created = client.post("/api/v1/silences", {"matchers": ['region=~"us-.*"'], "comment": "failing over",
                                                "duration_seconds": 3600}, content_type="application/json")
    assert created.status_code == 201 and created.json()["active"] and created.json()["created_by"] == "op"
    silence_id = created.json()["id"]
    expired = client.post(f"/api/v1/silences/{silence_id}/expire", {"reason": "done"},
                          content_type="application/json").json()
    assert expired["active"] is False and expired["expired_by"] == "op"
    assert client.get("/api/v1/silences", {"active": True}).json() == []
