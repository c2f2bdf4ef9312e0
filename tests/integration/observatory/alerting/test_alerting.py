"""Alert lifecycle, grouping timers, silences, inhibition and exactly-once notification, on a controllable clock."""

import threading

import pytest
from django.db import connection

from observatory.alerting.dispatch import dispatch, render_alertmanager, render_pagerduty
from observatory.alerting.evaluate import evaluate_alerts
from observatory.alerting.models import Alert, Silence
from observatory.alerting.silences import create_silence, expire_unmatched
from observatory.analytics.alerts import parse_matcher
from tests.integration.observatory.alerting.conftest import at, condition


def step(seconds, *conditions):
    evaluate_alerts(now=at(seconds), conditions=list(conditions))
    return dispatch(now=at(seconds))


def deliver(receiver):
    from tests.integration.observatory.failover.test_scenarios import deliver_all

    deliver_all()
    return [r["body"] for r in receiver.received() if r["verified"]]


def test_for_then_group_wait_then_one_grouped_notification(oncall, webhook_receiver, settings):
    settings.ALERT_GROUP_WAIT_SECONDS = 30
    a = condition(service="checkout", for_seconds=60)
    b = condition(service="payments", for_seconds=60)
    assert step(0, a) == 0 and Alert.objects.get().state == "pending"
    assert step(30, a, b) == 0
    assert step(60, a, b) == 0  # a fires now; the group waits group_wait for the rest
    assert step(89, a, b) == 0
    assert step(95, a, b) == 1  # b fired at 90: both in one notification
    [body] = deliver(webhook_receiver)
    assert body["status"] == "firing" and body["groupLabels"] == {"alertname": "HighErrorRate", "region": "us-east-1"}
    assert sorted(x["labels"]["service"] for x in body["alerts"]) == ["checkout", "payments"]


def test_group_interval_batches_changes_and_repeat_interval_reminds(oncall, webhook_receiver, settings):
    settings.ALERT_GROUP_WAIT_SECONDS, settings.ALERT_GROUP_INTERVAL_SECONDS = 0, 300
    settings.ALERT_REPEAT_INTERVAL_SECONDS = 3600
    a, b = condition(service="checkout"), condition(service="payments")
    assert step(0, a) == 1
    assert step(10, a, b) == 0  # a change, but within group_interval
    assert step(300, a, b) == 1
    assert step(600, a, b) == 0 and step(3899, a, b) == 0  # nothing new: wait for the repeat
    assert step(3900, a, b) == 1
    assert len(deliver(webhook_receiver)) == 3


def test_keep_firing_for_means_one_notification_for_a_flapping_condition(oncall, webhook_receiver, settings):
    settings.ALERT_GROUP_WAIT_SECONDS, settings.ALERT_GROUP_INTERVAL_SECONDS = 0, 60
    flappy = condition(keep=120)
    for seconds, present in [(0, True), (20, False), (40, True), (60, False), (90, True), (130, False)]:
        step(seconds, *([flappy] if present else []))
    assert Alert.objects.get().state == "firing"
    step(215, )  # 125 s after the last true evaluation: resolved
    step(280, )
    bodies = deliver(webhook_receiver)
    assert [b["status"] for b in bodies] == ["firing", "resolved"]


def test_acknowledged_alert_stops_repeats_but_resolution_is_still_sent(oncall, webhook_receiver, settings):
    settings.ALERT_GROUP_WAIT_SECONDS, settings.ALERT_GROUP_INTERVAL_SECONDS = 0, 60
    settings.ALERT_REPEAT_INTERVAL_SECONDS = 600
    a = condition()
    assert step(0, a) == 1
    Alert.objects.update(acknowledged_by="oncall")
    assert step(700, a) == 0
    assert step(760) == 1  # resolved
    assert [b["status"] for b in deliver(webhook_receiver)] == ["firing", "resolved"]


def test_silence_with_regex_matchers_and_its_expiry(oncall, webhook_receiver, settings):
    settings.ALERT_GROUP_WAIT_SECONDS = 0
    silence = create_silence(['region=~"us-.*"', 'severity!="ticket"'], "maintenance", "oncall", at(600),
                             starts_at=at(0))
    assert step(10, condition(region="us-east-1"), condition(region="eu-west-1")) == 1
    assert [b["groupLabels"]["region"] for b in deliver(webhook_receiver)] == ["eu-west-1"]
    assert step(601, condition(region="us-east-1"), condition(region="eu-west-1")) == 1  # silence over
    assert [e.action for e in silence.events.all()] == ["created"]


def test_silence_can_expire_when_nothing_matches_any_more(oncall, settings):
    from django.utils import timezone

    silence = create_silence(['alertname="HighErrorRate"'], "known issue", "oncall",
                             timezone.now() + timezone.timedelta(hours=1), expire_when_unmatched=True)
    evaluate_alerts(conditions=[condition()])
    assert expire_unmatched() == 0
    evaluate_alerts(conditions=[])
    assert expire_unmatched() == 1
    silence.refresh_from_db()
    assert silence.expired_by == "system" and [e.action for e in silence.events.order_by("at")] == [
        "created", "expired"]


def test_unhealthy_region_inhibits_its_per_service_alerts(oncall, webhook_receiver, settings):
    settings.ALERT_GROUP_WAIT_SECONDS = 0
    region_down = condition(alertname="RegionUnhealthy", region="us-east-1")
    step(0, region_down, condition(service="checkout"), condition(service="payments"),
         condition(service="checkout", region="eu-west-1"))
    bodies = deliver(webhook_receiver)
    assert sorted((b["groupLabels"]["alertname"], b["groupLabels"]["region"]) for b in bodies) == [
        ("HighErrorRate", "eu-west-1"), ("RegionUnhealthy", "us-east-1")]


def test_racing_dispatchers_notify_exactly_once(oncall, webhook_receiver, settings):
    settings.ALERT_GROUP_WAIT_SECONDS = 0
    evaluate_alerts(now=at(0), conditions=[condition(region=f"r{i}") for i in range(10)])
    barrier = threading.Barrier(4)

    def racer():
        try:
            barrier.wait()
            dispatch(now=at(1))
        finally:
            connection.close()

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    regions = sorted(b["groupLabels"]["region"] for b in deliver(webhook_receiver))
    assert regions == sorted(f"r{i}" for i in range(10))


@pytest.mark.django_db
def test_golden_alertmanager_and_pagerduty_bodies(settings):
    settings.EXTERNAL_URL = "https://observatory.example.com"
    alert = Alert(fingerprint="0123456789abcdef", labels={"alertname": "RegionUnhealthy", "region": "us-east-1",
                                                          "severity": "page"},
                  annotations={"summary": "Region us-east-1 is unhealthy", "link": "https://o.example/r"},
                  state="firing", firing_since=at(0))
    resolved = Alert(fingerprint="fedcba9876543210", labels={"alertname": "RegionUnhealthy", "region": "us-east-1",
                                                             "severity": "ticket"},
                     annotations={"summary": "old"}, state="resolved", firing_since=at(0), resolved_at=at(60))
    body = render_alertmanager("oncall", {"alertname": "RegionUnhealthy", "region": "us-east-1"}, [alert, resolved])
    assert body == {
        "version": "4",
        "groupKey": '{}:{alertname="RegionUnhealthy", region="us-east-1"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "oncall",
        "groupLabels": {"alertname": "RegionUnhealthy", "region": "us-east-1"},
        "commonLabels": {"alertname": "RegionUnhealthy", "region": "us-east-1"},
        "commonAnnotations": {},
        "externalURL": "https://observatory.example.com",
        "alerts": [
            {"status": "firing", "labels": alert.labels, "annotations": alert.annotations,
             "startsAt": "2026-11-22T12:00:00.000000Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "https://o.example/r", "fingerprint": "0123456789abcdef"},
            {"status": "resolved", "labels": resolved.labels, "annotations": {"summary": "old"},
             "startsAt": "2026-11-22T12:00:00.000000Z", "endsAt": "2026-11-22T12:01:00.000000Z",
             "generatorURL": "https://observatory.example.com", "fingerprint": "fedcba9876543210"},
        ],
    }
    routed = render_alertmanager("oncall", {"region": "us-east-1"}, [alert],
                                 route_matchers=(parse_matcher('severity="page"'), parse_matcher("service=~a.*")))
    assert routed["groupKey"] == '{}/{severity="page", service=~"a.*"}:{region="us-east-1"}'
    trigger = render_pagerduty("R0UT1NGKEY", {"region": "us-east-1"}, "groupkey1", [alert])
    assert trigger == {
        "routing_key": "R0UT1NGKEY", "event_action": "trigger", "dedup_key": "groupkey1",
        "payload": {"summary": "Region us-east-1 is unhealthy", "source": "us-east-1", "severity": "critical",
                    "custom_details": {"group": {"region": "us-east-1"}, "alerts": [alert.labels]}},
        "links": [{"href": "https://o.example/r", "text": "Observatory"}],
    }
    resolve = render_pagerduty("R0UT1NGKEY", {"region": "us-east-1"}, "groupkey1", [resolved])
    assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == trigger["dedup_key"]
