"""Advance every alert's lifecycle from the current conditions; each change is a compare-and-set.

A cycle costs a fixed number of statements whatever the number of alerts: one read,
one bulk insert of new alerts, and on PostgreSQL one ``UPDATE ... FROM (VALUES ...)``
per thousand changes, each row guarded by the version it was read at.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from observatory.alerting import sources
from observatory.alerting.models import Alert
from observatory.analytics import alerts as lifecycle

BATCH = 1000
STATE_FIELDS = ("state", "active_since", "firing_since", "last_true_at", "resolved_at")


def _state(alert: Alert) -> lifecycle.AlertState:
    return lifecycle.AlertState(alert.state, alert.active_since, alert.firing_since, alert.last_true_at,
                                alert.resolved_at)


def evaluate_alerts(now=None, conditions: list[sources.Condition] | None = None) -> dict[str, int]:
    now = now or timezone.now()
    conditions = sources.collect(now) if conditions is None else conditions
    by_fp = {c.fingerprint: c for c in conditions}
    live = [lifecycle.PENDING, lifecycle.FIRING]
    alerts = {a.fingerprint: a for a in Alert.objects.filter(Q(fingerprint__in=list(by_fp)) | Q(state__in=live))}
    missing = [by_fp[fp] for fp in by_fp if fp not in alerts]
    if missing:
        # Racing evaluators may insert the same alert: the unique fingerprint keeps one, and both read it back.
        Alert.objects.bulk_create([Alert(fingerprint=c.fingerprint, labels=c.labels, annotations=c.annotations,
                                         for_seconds=c.for_seconds, keep_firing_for_seconds=c.keep_firing_for_seconds)
                                   for c in missing], ignore_conflicts=True, batch_size=BATCH)
        alerts.update({a.fingerprint: a for a in Alert.objects.filter(fingerprint__in=[c.fingerprint for c in missing])})
    changes = [change for alert in alerts.values()
               if (change := _next(alert, by_fp.get(alert.fingerprint), now)) is not None]
    won = _swap_all(changes, now)
    return {"changed": won, "conflicts": len(changes) - won}


def _next(alert: Alert, condition: sources.Condition | None, now) -> tuple[Alert, dict] | None:
    """The alert's new field values, or None when nothing changes."""
    for_ = timedelta(seconds=condition.for_seconds if condition else alert.for_seconds)
    keep = timedelta(seconds=condition.keep_firing_for_seconds if condition else alert.keep_firing_for_seconds)
    new = lifecycle.advance(_state(alert), condition is not None, now, for_, keep)
    fields = {"state": new.state, "active_since": new.active_since, "firing_since": new.firing_since,
              "last_true_at": new.last_true_at, "resolved_at": new.resolved_at,
              "annotations": condition.annotations if condition is not None else alert.annotations}
    reset_ack = new.state == lifecycle.PENDING and alert.state in (lifecycle.RESOLVED, lifecycle.INACTIVE)
    if reset_ack:
        fields.update(acknowledged_by="", acknowledged_at=None)  # a new incident is not acknowledged yet
    if all(getattr(alert, k) == v for k, v in fields.items()):
        return None
    return alert, fields


def _swap_all(changes: list[tuple[Alert, dict]], now) -> int:
    """Apply every change guarded by its version; returns how many won (the rest lost a race)."""
    if connection.vendor != "postgresql":
        return sum(Alert.objects.filter(id=alert.id, version=alert.version).update(
            version=alert.version + 1, updated_at=now, **fields) for alert, fields in changes)
    won = 0
    for start in range(0, len(changes), BATCH):
        won += _swap_batch(changes[start:start + BATCH], now)
    return won


def _swap_batch(changes: list[tuple[Alert, dict]], now) -> int:
    row = "(%s::bigint, %s::integer, %s::varchar, %s::timestamptz, %s::timestamptz, %s::timestamptz, " \
          "%s::timestamptz, %s::jsonb, %s::boolean)"
    params: list = [now]
    for alert, fields in changes:
        params += [alert.id, alert.version, *(fields[k] for k in STATE_FIELDS), json.dumps(fields["annotations"]),
                   "acknowledged_by" in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE alerting_alert AS a
                SET state = v.state, active_since = v.active_since, firing_since = v.firing_since,
                    last_true_at = v.last_true_at, resolved_at = v.resolved_at, annotations = v.annotations,
                    acknowledged_by = CASE WHEN v.reset_ack THEN '' ELSE a.acknowledged_by END,
                    acknowledged_at = CASE WHEN v.reset_ack THEN NULL ELSE a.acknowledged_at END,
                    version = a.version + 1, updated_at = %s
                FROM (VALUES {", ".join([row] * len(changes))})
                     AS v(id, version, state, active_since, firing_since, last_true_at, resolved_at, annotations,
                          reset_ack)
                WHERE a.id = v.id AND a.version = v.version""",
            params)
        return cursor.rowcount
