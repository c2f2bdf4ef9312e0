"""Route alerts to receivers in groups, and notify each group exactly once per due time.

Every endpoint subscribed to ``alert.*`` is a route grouped by alertname and
region. A group notifies when analytics.notify says it is due; the group row's
(last_sent_at, last_digest) is claimed with a compare-and-set in the same
transaction that enqueues the webhook, so racing workers send it once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from observatory.alerting.models import Alert, AlertGroup, Silence
from observatory.alerting.sources import BUILTIN_INHIBIT_RULES
from observatory.analytics import alerts as lifecycle
from observatory.analytics.notify import GroupView, Timing, should_send
from observatory.delivery import outbox
from observatory.delivery.models import Endpoint

GROUP_BY = ("alertname", "region")
RESOLVED_MEMORY = timedelta(days=1)  # resolved alerts older than this are not told any more
ZERO_TIME = "0001-01-01T00:00:00Z"


def timing() -> Timing:
    return Timing(timedelta(seconds=settings.ALERT_GROUP_WAIT_SECONDS),
                  timedelta(seconds=settings.ALERT_GROUP_INTERVAL_SECONDS),
                  timedelta(seconds=settings.ALERT_REPEAT_INTERVAL_SECONDS))


def active_silences(now) -> list[tuple[Silence, lifecycle.Silence]]:
    found = []
    for silence in Silence.objects.filter(starts_at__lte=now, ends_at__gt=now):
        matchers = tuple(lifecycle.parse_matcher(m) for m in silence.matchers)
        found.append((silence, lifecycle.Silence(matchers, silence.starts_at, silence.ends_at)))
    return found


def notifiable(now) -> list[Alert]:
    """Firing alerts that are neither silenced nor inhibited, plus recently resolved ones."""
    alerts = list(Alert.objects.filter(state=lifecycle.FIRING)) + list(
        Alert.objects.filter(state=lifecycle.RESOLVED, resolved_at__gte=now - RESOLVED_MEMORY))
    firing_labels = [a.labels for a in alerts if a.state == lifecycle.FIRING]
    silences = [rule for _, rule in active_silences(now)]
    return [a for a in alerts if a.state == lifecycle.RESOLVED or not (
        any(s.silences(a.labels, now) for s in silences)
        or lifecycle.inhibited(a.labels, firing_labels, BUILTIN_INHIBIT_RULES))]


def _group_key(endpoint: Endpoint, group_labels: dict) -> str:
    return hashlib.sha256(json.dumps([endpoint.id, group_labels], sort_keys=True).encode()).hexdigest()[:32]


def dispatch(now=None) -> int:
    """Notify every due group; returns the number of notifications enqueued."""
    now = now or timezone.now()
    receivers = [e for e in Endpoint.objects.filter(enabled=True) if e.wants("alert.firing")]
    if not receivers:
        return 0
    groups: dict[tuple, list[Alert]] = {}
    for alert in notifiable(now):
        labels = {name: alert.labels.get(name, "") for name in GROUP_BY}
        for endpoint in receivers:
            groups.setdefault((endpoint.id, json.dumps(labels, sort_keys=True)), []).append(alert)
    endpoints = {e.id: e for e in receivers}
    sent = 0
    for (endpoint_id, labels_json), alerts in groups.items():
        sent += _maybe_notify(endpoints[endpoint_id], json.loads(labels_json), alerts, now)
    return sent


def _maybe_notify(endpoint: Endpoint, group_labels: dict, alerts: list[Alert], now) -> int:
    key = _group_key(endpoint, group_labels)
    group, _ = AlertGroup.objects.get_or_create(
        key=key, defaults={"receiver": endpoint, "group_labels": group_labels, "created_at": now})
    firing_now = {a.fingerprint for a in alerts if a.state == lifecycle.FIRING}
    told = set(group.sent_resolved) - firing_now  # a re-fired alert's next resolution must be told again
    members = [a for a in alerts if a.state == lifecycle.FIRING or a.fingerprint not in told]
    view = GroupView(tuple(sorted((a.fingerprint, a.state) for a in members)),
                     repeatable=any(a.state == lifecycle.FIRING and not a.acknowledged_by for a in members))
    if not should_send(now, group.created_at, group.last_sent_at, group.last_digest or None, view, timing()):
        return 0
    if not any(a.state == lifecycle.FIRING for a in members) and group.last_sent_at is None:
        return 0  # never told it was firing: nothing to resolve
    resolved = [a.fingerprint for a in members if a.state == lifecycle.RESOLVED]
    with transaction.atomic():
        claimed = AlertGroup.objects.filter(id=group.id, last_sent_at=group.last_sent_at,
                                            last_digest=group.last_digest).update(
            last_sent_at=now, last_digest=view.digest, sent_resolved=sorted(told | set(resolved)))
        if not claimed:
            return 0  # another worker sent this group's notification
        event = "alert.firing" if any(a.state == lifecycle.FIRING for a in members) else "alert.resolved"
        outbox.enqueue(event, render(endpoint, group_labels, key, members), endpoints=[endpoint.name])
    return 1


def render(endpoint: Endpoint, group_labels: dict, key: str, alerts: list[Alert]) -> dict:
    if endpoint.format == Endpoint.Format.PAGERDUTY:
        return render_pagerduty(endpoint.routing_key, group_labels, key, alerts)
    return render_alertmanager(endpoint.name, group_labels, alerts)


def render_alertmanager(receiver: str, group_labels: dict, alerts: list[Alert]) -> dict:
    """The Alertmanager v4 webhook body, so existing receivers work unchanged."""
    firing = any(a.state == lifecycle.FIRING for a in alerts)
    common_labels = _common([a.labels for a in alerts])
    return {
        "version": "4",
        "groupKey": "{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items())) + "}",
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": _common([a.annotations for a in alerts]),
        "externalURL": settings.EXTERNAL_URL,
        "alerts": [{
            "status": "firing" if a.state == lifecycle.FIRING else "resolved",
            "labels": a.labels,
            "annotations": a.annotations,
            "startsAt": _iso(a.firing_since),
            "endsAt": _iso(a.resolved_at) if a.state == lifecycle.RESOLVED else ZERO_TIME,
            "generatorURL": a.annotations.get("link", settings.EXTERNAL_URL),
            "fingerprint": a.fingerprint,
        } for a in sorted(alerts, key=lambda a: a.fingerprint)],
    }


def render_pagerduty(routing_key: str, group_labels: dict, key: str, alerts: list[Alert]) -> dict:
    """A PagerDuty Events API v2 event; trigger and resolve share the group's dedup_key."""
    firing = [a for a in alerts if a.state == lifecycle.FIRING]
    lead = (firing or alerts)[0]
    severity = "critical" if any(a.labels.get("severity") == "page" for a in firing) else "warning"
    return {
        "routing_key": routing_key,
        "event_action": "trigger" if firing else "resolve",
        "dedup_key": key,
        "payload": {
            "summary": lead.annotations.get("summary", lead.name)[:1024]
            + (f" (+{len(firing) - 1} more)" if len(firing) > 1 else ""),
            "source": group_labels.get("region") or "observatory",
            "severity": severity,
            "custom_details": {"group": group_labels, "alerts": [a.labels for a in alerts]},
        },
        "links": [{"href": lead.annotations.get("link", settings.EXTERNAL_URL), "text": "Observatory"}],
    }


def _common(dicts: list[dict]) -> dict:
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}


def _iso(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else ZERO_TIME
