"""Advance every alert's lifecycle from the current conditions; each change is a compare-and-set."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from observatory.alerting import sources
from observatory.alerting.models import Alert
from observatory.analytics import alerts as lifecycle


def _state(alert: Alert) -> lifecycle.AlertState:
    return lifecycle.AlertState(alert.state, alert.active_since, alert.firing_since, alert.last_true_at,
                                alert.resolved_at)


def evaluate_alerts(now=None, conditions: list[sources.Condition] | None = None) -> dict[str, int]:
    now = now or timezone.now()
    conditions = sources.collect(now) if conditions is None else conditions
    by_fp = {c.fingerprint: c for c in conditions}
    changed = conflicts = 0
    existing = {a.fingerprint: a for a in Alert.objects.filter(fingerprint__in=list(by_fp))}
    live = Alert.objects.filter(state__in=[lifecycle.PENDING, lifecycle.FIRING]).exclude(fingerprint__in=list(by_fp))
    for alert in [*existing.values(), *live]:
        condition = by_fp.get(alert.fingerprint)
        result = _advance(alert, condition, now)
        if result is None:
            continue
        changed += 1 if result else 0
        conflicts += 0 if result else 1
    for fp, condition in by_fp.items():
        if fp in existing:
            continue
        alert = Alert(fingerprint=fp, labels=condition.labels, annotations=condition.annotations,
                      for_seconds=condition.for_seconds, keep_firing_for_seconds=condition.keep_firing_for_seconds)
        try:
            with transaction.atomic():
                alert.save()
        except IntegrityError:
            conflicts += 1  # another evaluator created it: it advances next round
            continue
        changed += 1 if _advance(alert, condition, now) else 0
    return {"changed": changed, "conflicts": conflicts}


def _advance(alert: Alert, condition: sources.Condition | None, now) -> bool | None:
    """None: nothing to change; True: changed; False: lost a race (someone else changed it first)."""
    for_ = timedelta(seconds=condition.for_seconds if condition else alert.for_seconds)
    keep = timedelta(seconds=condition.keep_firing_for_seconds if condition else alert.keep_firing_for_seconds)
    new = lifecycle.advance(_state(alert), condition is not None, now, for_, keep)
    fields = {"state": new.state, "active_since": new.active_since, "firing_since": new.firing_since,
              "last_true_at": new.last_true_at, "resolved_at": new.resolved_at}
    if condition is not None:
        fields["annotations"] = condition.annotations
    if new.state == lifecycle.PENDING and alert.state in (lifecycle.RESOLVED, lifecycle.INACTIVE):
        fields.update(acknowledged_by="", acknowledged_at=None)  # a new incident is not acknowledged yet
    if all(getattr(alert, k) == v for k, v in fields.items()):
        return None
    updated = Alert.objects.filter(id=alert.id, version=alert.version).update(
        version=alert.version + 1, updated_at=now, **fields)
    return bool(updated)
