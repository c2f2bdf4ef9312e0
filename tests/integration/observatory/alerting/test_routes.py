"""Routes and inhibit rules from `manage.py apply` decide who hears about which alert, grouped how, and when."""

import io
import textwrap

from django.core.management import call_command

from observatory.alerting.models import Route
from observatory.delivery.models import Endpoint
from tests.integration.observatory.alerting.conftest import condition
from tests.integration.observatory.alerting.test_alerting import deliver, step

CONFIG = """
webhooks:
  oncall: {{url: "{base}/oncall", secret: "{secret}", events: ["alert.*"], format: alertmanager}}
  pd: {{url: "{base}/pd", secret: "{secret}", events: [], format: pagerduty, routing_key: R0UT1NG}}
  chat: {{url: "{base}/chat", secret: "{secret}", events: [], format: alertmanager}}
alerting:
  routes:
    - {{matchers: ['severity="page"'], receiver: pd, group_by: [region], group_wait_seconds: 0, continue: true}}
    - {{matchers: ['region=~"eu-.*"'], receiver: chat, group_wait_seconds: 60}}
  inhibit_rules:
    - {{source: ['alertname="Maintenance"'], target: ['severity="ticket"'], equal: [region]}}
"""


def apply_routes(tmp_path, receiver) -> str:
    path = tmp_path / "observatory.yaml"
    path.write_text(textwrap.dedent(CONFIG.format(base=receiver.url.rsplit("/", 1)[0], secret=receiver.secret)))
    out = io.StringIO()
    call_command("apply", str(path), stdout=out)
    return out.getvalue()


def by_path(receiver) -> dict[str, list]:
    bodies = {}
    deliver(receiver)
    for got in receiver.received():
        assert got["verified"]
        bodies.setdefault(got["path"], []).append(got["body"])
    return bodies


def test_routes_pick_receivers_group_by_and_timers(transactional_db, webhook_receiver, tmp_path, settings):
    settings.ALERT_GROUP_WAIT_SECONDS = 30
    assert "alerting routes: created (2 routes)" in apply_routes(tmp_path, webhook_receiver)
    conditions = [condition(service="checkout"), condition(alertname="Other", service="payments"),
                  condition(region="eu-west-1"), condition(severity="ticket", region="eu-west-1"),
                  condition(severity="ticket", region="us-west-2"),
                  condition(alertname="Maintenance", severity="info", region="us-west-2")]
    assert step(0, *conditions) == 2  # pages: group_wait 0 on their route, grouped by region alone
    pd, _ = sorted(by_path(webhook_receiver)["/pd"], key=lambda b: b["payload"]["source"], reverse=True)
    assert pd["event_action"] == "trigger" and pd["payload"]["custom_details"]["group"] == {"region": "us-east-1"}
    assert sorted(a["alertname"] for a in pd["payload"]["custom_details"]["alerts"]) == ["HighErrorRate", "Other"]

    assert step(30, *conditions) == 1  # the default route's wait: alerts no route matched go to alert.* subscribers
    [oncall] = by_path(webhook_receiver)["/oncall"]  # the us-west-2 ticket is inhibited by Maintenance
    assert oncall["groupKey"] == '{}:{alertname="Maintenance", region="us-west-2"}'

    assert step(59, *conditions) == 0 and step(60, *conditions) == 1  # chat's own group_wait
    [chat] = by_path(webhook_receiver)["/chat"]
    assert chat["groupKey"] == '{}/{region=~"eu-.*"}:{alertname="HighErrorRate", region="eu-west-1"}'
    # continue: the eu page reached pd and, through the next route, chat too
    assert sorted(a["labels"]["severity"] for a in chat["alerts"]) == ["page", "ticket"]


def test_without_routes_every_alert_subscriber_gets_alertname_region_groups(oncall, webhook_receiver, settings):
    settings.ALERT_GROUP_WAIT_SECONDS = 0
    assert not Route.objects.exists()
    assert step(0, condition(service="a"), condition(service="b"), condition(region="eu-west-1")) == 2
    assert sorted(b["groupLabels"]["region"] for b in by_path(webhook_receiver)["/hook"]) == ["eu-west-1", "us-east-1"]


def test_a_disabled_receivers_route_is_skipped_so_its_alerts_reach_the_default_route(transactional_db, webhook_receiver, tmp_path, settings):
    settings.ALERT_GROUP_WAIT_SECONDS = 0
    apply_routes(tmp_path, webhook_receiver)
    Endpoint.objects.filter(name="pd").update(enabled=False)
    assert step(0, condition()) == 1  # the page route's pd answered 410 once: the default route takes it
    assert list(by_path(webhook_receiver)) == ["/oncall"]


def test_a_routes_own_group_interval_and_repeat_interval(transactional_db, webhook_receiver, tmp_path, settings):
    settings.ALERT_GROUP_INTERVAL_SECONDS, settings.ALERT_REPEAT_INTERVAL_SECONDS = 300, 4 * 3600
    base, secret = webhook_receiver.url.rsplit("/", 1)[0], webhook_receiver.secret
    path = tmp_path / "observatory.yaml"
    path.write_text(textwrap.dedent(f"""
        webhooks:
          chat: {{url: "{base}/chat", secret: "{secret}", events: [], format: alertmanager}}
        alerting:
          routes:
            - {{receiver: chat, group_wait_seconds: 0, group_interval_seconds: 60, repeat_interval_seconds: 600}}
    """))
    call_command("apply", str(path), stdout=io.StringIO())
    a, b = condition(service="a"), condition(service="b")
    assert step(0, a) == 1
    assert step(30, a, b) == 0 and step(60, a, b) == 1  # the route's group_interval, not the 300 s default
    assert step(659, a, b) == 0 and step(660, a, b) == 1  # its repeat_interval, not 4 h
    bodies = by_path(webhook_receiver)["/chat"]
    assert [len(b["alerts"]) for b in bodies] == [1, 2, 2]
    assert bodies[0]["groupKey"] == '{}:{alertname="HighErrorRate", region="us-east-1"}'  # no matchers: root path


def test_routes_api_shows_the_routing_in_effect_and_tests_labels(transactional_db, webhook_receiver, tmp_path,
                                                                  settings, client):
    from django.contrib.auth import get_user_model

    settings.ALERT_GROUP_WAIT_SECONDS, settings.ALERT_REPEAT_INTERVAL_SECONDS = 30, 7200
    apply_routes(tmp_path, webhook_receiver)
    client.force_login(get_user_model().objects.create_user("viewer", password="a-long-password-42"))

    shown = client.get("/api/v1/alert-routes").json()
    assert [(r["position"], r["receiver"], r["group_by"], r["group_wait_seconds"], r["continue"])
            for r in shown["routes"]] == [(0, "pd", ["region"], 0, True), (1, "chat", ["alertname", "region"], 60,
                                                                           False)]
    assert shown["routes"][0]["repeat_interval_seconds"] == 7200  # unset on the route: the setting
    assert [(r["receiver"], r["group_wait_seconds"]) for r in shown["default_routes"]] == [("oncall", 30)]
    assert {"source": ['alertname="Maintenance"'], "target": ['severity="ticket"'], "equal": ["region"],
            "builtin": False} in shown["inhibit_rules"]
    assert any(r["builtin"] and r["source"] == ['alertname="RegionUnhealthy"'] for r in shown["inhibit_rules"])

    def receivers(**labels) -> list[tuple[str, dict]]:
        response = client.post("/api/v1/alert-routes/test", {"labels": labels}, content_type="application/json")
        assert response.status_code == 200, response.content
        return [(r["receiver"], r["group_labels"]) for r in response.json()["routes"]]

    # A page in eu-west-1 goes to pd (continue) and then to chat; a ticket elsewhere falls to the default route.
    assert receivers(alertname="X", severity="page", region="eu-west-1") == [
        ("pd", {"region": "eu-west-1"}), ("chat", {"alertname": "X", "region": "eu-west-1"})]
    assert receivers(alertname="Y", severity="ticket", region="us-east-1") == [
        ("oncall", {"alertname": "Y", "region": "us-east-1"})]
    assert client.post("/api/v1/alert-routes/test", {"labels": "nope"},
                       content_type="application/json").status_code == 422
