"""Route alerts to receivers in groups, and notify each group exactly once per due time.

Routes come from `manage.py apply` (alerting.routes, as Route rows). Alerts that
no route matches, and every alert when there are no routes, go to the default
route: each endpoint subscribed to ``alert.*``, grouped by alertname and region
on the ALERT_*_SECONDS timers. A group notifies when analytics.notify says it is
due; the group row's (last_sent_at, last_digest) is claimed with a compare-and-set
in the same transaction that enqueues the webhook, so racing workers send it once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from observatory.alerting.models import Alert, AlertGroup, InhibitRule, Route, Silence
from observatory.alerting.sources import BUILTIN_INHIBIT_RULES
from observatory.analytics import alerts as lifecycle
from observatory.analytics import notify
from observatory.analytics.notify import GroupView, Timing, due_at
from observatory.delivery import outbox
from observatory.delivery.models import Endpoint

GROUP_BY = ("alertname", "region")
RESOLVED_MEMORY = timedelta(days=1)  # resolved alerts older than this are not told any more
ZERO_TIME = "0001-01-01T00:00:00Z"


def timing(wait=None, interval=None, repeat=None) -> Timing:
    """A route's timers; each one it leaves unset is the ALERT_*_SECONDS setting."""
    return Timing(timedelta(seconds=settings.ALERT_GROUP_WAIT_SECONDS if wait is None else wait),
                  timedelta(seconds=settings.ALERT_GROUP_INTERVAL_SECONDS if interval is None else interval),
                  timedelta(seconds=settings.ALERT_REPEAT_INTERVAL_SECONDS if repeat is None else repeat))


def load_routes(endpoints: dict[int, Endpoint]) -> tuple[list[notify.Route], list[notify.Route]]:
    """(configured routes, default routes)."""
    routes = [notify.Route(
        receiver=r.receiver_id, matchers=tuple(lifecycle.parse_matcher(m) for m in r.matchers),
        group_by=tuple(r.group_by), timing=timing(r.group_wait_seconds, r.group_interval_seconds,
                                                  r.repeat_interval_seconds),
        continue_matching=r.continue_matching, key=json.dumps([r.matchers, r.group_by]))
        for r in Route.objects.all()]
    fallback = [notify.Route(receiver=e.id, group_by=GROUP_BY, timing=timing())
                for e in endpoints.values() if e.wants("alert.firing")]
    return routes, fallback


def inhibit_rules() -> list[lifecycle.InhibitRule]:
    configured = [lifecycle.InhibitRule(tuple(lifecycle.parse_matcher(m) for m in r.source),
                                        tuple(lifecycle.parse_matcher(m) for m in r.target), tuple(r.equal))
                  for r in InhibitRule.objects.all()]
    return BUILTIN_INHIBIT_RULES + configured


def active_silences(now) -> list[tuple[Silence, lifecycle.Silence]]:
    found = []
    for silence in Silence.objects.filter(starts_at__lte=now, ends_at__gt=now):
        matchers = tuple(lifecycle.parse_matcher(m) for m in silence.matchers)
        found.append((silence, lifecycle.Silence(matchers, silence.starts_at, silence.ends_at)))
    return found


@dataclass(slots=True)
class Notice:
    """What a notification tells of an alert (plain rows: this runs every cycle over every alert)."""

    fingerprint: str
    labels: dict
    state: str
    acknowledged_by: str
    annotations: dict | None = None  # read only for the groups that notify (_fill)
    firing_since: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


def notifiable(now) -> list[Notice]:
    """Firing alerts that are neither silenced nor inhibited, plus recently resolved ones."""
    recent = Q(state=lifecycle.FIRING) | Q(state=lifecycle.RESOLVED, resolved_at__gte=now - RESOLVED_MEMORY)
    alerts = [Notice(*row) for row in Alert.objects.filter(recent).values_list(
        "fingerprint", "labels", "state", "acknowledged_by")]
    inhibitor = lifecycle.Inhibitor([a.labels for a in alerts if a.state == lifecycle.FIRING], inhibit_rules())
    silences = [rule for _, rule in active_silences(now)]
    return [a for a in alerts if a.state == lifecycle.RESOLVED or not (
        any(s.silences(a.labels, now) for s in silences) or inhibitor.inhibits(a.labels))]


def _group_key(endpoint_id: int, group_labels: dict, route_key: str = "") -> str:
    # The default routes keep the key they had before routes existed, so their groups carry on.
    parts = [endpoint_id, group_labels] + ([route_key] if route_key else [])
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def dispatch(now=None, upcoming: list | None = None, since=None) -> int:
    """Notify every due group; returns the number of notifications enqueued. Groups due later
    add their due time to ``upcoming``, so the caller can run a dispatch right then. A new
    group's group_wait counts from ``since`` (the evaluation that fired its alerts), else now."""
    now = now or timezone.now()
    endpoints = {e.id: e for e in Endpoint.objects.filter(enabled=True)}
    routes, fallback = load_routes(endpoints)
    routes = [r for r in routes if r.receiver in endpoints]  # a receiver disabled by a 410: as if unrouted
    if not routes and not fallback:
        return 0
    groups: dict[tuple, list[Notice]] = {}
    for alert in notifiable(now):
        for chosen in notify.route(alert.labels, routes, fallback):
            labels = json.dumps({name: alert.labels.get(name, "") for name in chosen.group_by}, sort_keys=True)
            groups.setdefault((chosen, labels), []).append(alert)
    keys = {(r, labels): _group_key(r.receiver, json.loads(labels), r.key) for r, labels in groups}
    rows = {g.key: g for g in AlertGroup.objects.filter(key__in=list(keys.values()))}
    sent = 0
    for (chosen, labels), alerts in groups.items():
        key = keys[(chosen, labels)]
        group = rows.get(key) or _create_group(key, chosen.receiver, json.loads(labels), min(since or now, now))
        sent += _maybe_notify(endpoints[chosen.receiver], chosen, group, alerts, now,
                              upcoming if upcoming is not None else [])
    return sent


def _create_group(key: str, receiver_id: int, group_labels: dict, now) -> AlertGroup:
    try:
        with transaction.atomic():
            return AlertGroup.objects.create(key=key, receiver_id=receiver_id, group_labels=group_labels,
                                             created_at=now)
    except IntegrityError:
        return AlertGroup.objects.get(key=key)  # another worker created it first


def _maybe_notify(endpoint: Endpoint, chosen: notify.Route, group: AlertGroup, alerts: list[Notice], now,
                  upcoming: list) -> int:
    firing_now = {a.fingerprint for a in alerts if a.state == lifecycle.FIRING}
    told = set(group.sent_resolved) - firing_now  # a re-fired alert's next resolution must be told again
    members = [a for a in alerts if a.state == lifecycle.FIRING or a.fingerprint not in told]
    view = GroupView(tuple(sorted((a.fingerprint, a.state) for a in members)),
                     repeatable=any(a.state == lifecycle.FIRING and not a.acknowledged_by for a in members))
    due = due_at(group.created_at, group.last_sent_at, group.last_digest or None, view, chosen.timing)
    if due is None:
        return 0
    if now < due:
        upcoming.append(due)
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
        _fill(members)
        event = "alert.firing" if any(a.state == lifecycle.FIRING for a in members) else "alert.resolved"
        outbox.enqueue(event, render(endpoint, group.group_labels, group.key, members, chosen.matchers),
                       endpoints=[endpoint.name])
    return 1


def _fill(members: list[Notice]) -> None:
    """Read what the notification shows of its alerts."""
    details = {fp: rest for fp, *rest in Alert.objects.filter(fingerprint__in=[m.fingerprint for m in members])
               .values_list("fingerprint", "annotations", "firing_since", "resolved_at")}
    for member in members:
        member.annotations, member.firing_since, member.resolved_at = details[member.fingerprint]


def render(endpoint: Endpoint, group_labels: dict, key: str, alerts: list[Alert | Notice], route_matchers=()) -> dict:
    if endpoint.format == Endpoint.Format.PAGERDUTY:
        return render_pagerduty(endpoint.routing_key, group_labels, key, alerts)
    return render_alertmanager(endpoint.name, group_labels, alerts, route_matchers)


def render_alertmanager(receiver: str, group_labels: dict, alerts: list[Alert | Notice], route_matchers=()) -> dict:
    """The Alertmanager v4 webhook body, so existing receivers work unchanged."""
    firing = any(a.state == lifecycle.FIRING for a in alerts)
    common_labels = _common([a.labels for a in alerts])
    # groupKey as Alertmanager writes it: the route's matchers along the tree, then the group's labels.
    route_path = "{}" + ("/{" + ", ".join(str(m) for m in route_matchers) + "}" if route_matchers else "")
    return {
        "version": "4",
        "groupKey": route_path + ":{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items())) + "}",
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


def render_pagerduty(routing_key: str, group_labels: dict, key: str, alerts: list[Alert | Notice]) -> dict:
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
