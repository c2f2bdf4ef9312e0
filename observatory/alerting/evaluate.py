"""Advance every alert's lifecycle from the current conditions; each change is a compare-and-set.

A cycle costs a fixed number of statements whatever the number of alerts: one read,
one bulk insert of new alerts, and on PostgreSQL one ``UPDATE ... FROM unnest(...)``
per thousands of changes, each row guarded by the version it was read at. Alerts whose
condition is still true change nothing unless keep_firing_for needs their last_true_at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from observatory.alerting import sources
from observatory.alerting.models import Alert
from observatory.analytics import alerts as lifecycle
from observatory.analytics.alerts import FIRING, PENDING

BATCH = 5000
STATE_FIELDS = ("state", "active_since", "firing_since", "last_true_at", "resolved_at")


@dataclass(slots=True)
class _Row:
    """The columns a cycle needs, read as plain tuples (model instances cost more than the cycle)."""

    id: int
    fingerprint: str
    version: int
    state: str
    active_since: datetime | None
    firing_since: datetime | None
    last_true_at: datetime | None
    resolved_at: datetime | None
    stale_annotations: bool  # its condition's annotations differ from the stored ones
    for_seconds: int
    keep_firing_for_seconds: int


def _read(conditions: list[sources.Condition], live: bool) -> dict[str, _Row]:
    """The alerts of these conditions, plus (live) every pending or firing one."""
    if connection.vendor != "postgresql":
        wanted = {c.fingerprint: c.annotations for c in conditions}
        query = Alert.objects.filter(Q(fingerprint__in=list(wanted)) | Q(state__in=[PENDING, FIRING] if live else []))
        return {row[1]: _Row(*row[:8], row[1] in wanted and row[8] != wanted[row[1]], *row[9:])
                for row in query.values_list("id", "fingerprint", "version", *STATE_FIELDS, "annotations",
                                             "for_seconds", "keep_firing_for_seconds")}
    # Raw SQL: fingerprints and annotations as two array parameters, annotations compared by the server,
    # timestamps as epoch floats (parsing 40,000 ISO timestamps a cycle costs more than the cycle's SQL).
    epochs = ", ".join(f"EXTRACT(EPOCH FROM a.{name})::float8" for name in STATE_FIELDS[1:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT a.id, a.fingerprint, a.version, a.state, {epochs},
                       v.fp IS NOT NULL AND a.annotations IS DISTINCT FROM v.ann,
                       a.for_seconds, a.keep_firing_for_seconds
                FROM alerting_alert AS a
                LEFT JOIN unnest(%s::varchar[], %s::jsonb[]) AS v(fp, ann) ON a.fingerprint = v.fp
                WHERE v.fp IS NOT NULL {"OR a.state IN ('pending', 'firing')" if live else ""}""",
            [[c.fingerprint for c in conditions], [json.dumps(c.annotations) for c in conditions]])
        return {row[1]: _Row(*row[:4], *(_at(x) for x in row[4:8]), *row[8:]) for row in cursor.fetchall()}


def _at(epoch: float | None) -> datetime | None:
    # Exact: a float holds today's epoch to well under a microsecond, and fromtimestamp rounds to one.
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=dt_timezone.utc)


def _state(alert: _Row) -> lifecycle.AlertState:
    return lifecycle.AlertState(alert.state, alert.active_since, alert.firing_since, alert.last_true_at,
                                alert.resolved_at)


def evaluate_alerts(now=None, conditions: list[sources.Condition] | None = None) -> dict[str, int]:
    now = now or timezone.now()
    conditions = sources.collect(now) if conditions is None else conditions
    by_fp = {c.fingerprint: c for c in conditions}
    alerts = _read(list(by_fp.values()), live=True)
    missing = [by_fp[fp] for fp in by_fp if fp not in alerts]
    if missing:
        # Racing evaluators may insert the same alert: the unique fingerprint keeps one, and both read it back.
        Alert.objects.bulk_create([Alert(fingerprint=c.fingerprint, labels=c.labels, annotations=c.annotations,
                                         for_seconds=c.for_seconds, keep_firing_for_seconds=c.keep_firing_for_seconds)
                                   for c in missing], ignore_conflicts=True, batch_size=BATCH)
        alerts.update(_read(missing, live=False))
    changes = [change for alert in alerts.values()
               if (change := _next(alert, by_fp.get(alert.fingerprint), now)) is not None]
    won = _swap_all(changes, now)
    return {"changed": won, "conflicts": len(changes) - won}


def _next(alert: _Row, condition: sources.Condition | None, now) -> tuple[_Row, dict] | None:
    """The alert's new field values, or None when nothing changes."""
    for_ = timedelta(seconds=condition.for_seconds if condition else alert.for_seconds)
    keep = timedelta(seconds=condition.keep_firing_for_seconds if condition else alert.keep_firing_for_seconds)
    new = lifecycle.advance(_state(alert), condition is not None, now, for_, keep)
    fields = {"state": new.state, "active_since": new.active_since, "firing_since": new.firing_since,
              "last_true_at": new.last_true_at, "resolved_at": new.resolved_at}
    if condition is not None and alert.stale_annotations:
        fields["annotations"] = condition.annotations
    elif all(getattr(alert, k) == v for k, v in fields.items() if k != "last_true_at" or keep):
        return None  # without keep_firing_for, last_true_at decides nothing: not worth a write per cycle
    if new.state == lifecycle.PENDING and alert.state in (lifecycle.RESOLVED, lifecycle.INACTIVE):
        fields.update(acknowledged_by="", acknowledged_at=None)  # a new incident is not acknowledged yet
    return alert, fields


def _swap_all(changes: list[tuple[_Row, dict]], now) -> int:
    """Apply every change guarded by its version; returns how many won (the rest lost a race)."""
    if connection.vendor != "postgresql":
        return sum(Alert.objects.filter(id=alert.id, version=alert.version).update(
            version=alert.version + 1, updated_at=now, **fields) for alert, fields in changes)
    # Most cycles only confirm that firing alerts are still true: those rows need just last_true_at.
    touched = [alert for alert, fields in changes if _only_seen(alert, fields, now)]
    full = [(alert, fields) for alert, fields in changes if not _only_seen(alert, fields, now)]
    won = 0
    for start in range(0, len(touched), BATCH):
        won += _touch_batch(touched[start:start + BATCH], now)
    for start in range(0, len(full), BATCH):
        won += _swap_batch(full[start:start + BATCH], now)
    return won


def _only_seen(alert: _Row, fields: dict, now) -> bool:
    return fields["last_true_at"] == now and "acknowledged_by" not in fields and "annotations" not in fields and all(
        getattr(alert, k) == v for k, v in fields.items() if k != "last_true_at")


def _touch_batch(alerts: list[_Row], now) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE alerting_alert AS a SET last_true_at = %s, version = a.version + 1, updated_at = %s
               FROM unnest(%s::bigint[], %s::integer[]) AS v(id, version)
               WHERE a.id = v.id AND a.version = v.version""",
            [now, now, [a.id for a in alerts], [a.version for a in alerts]])
        return cursor.rowcount


def _swap_batch(changes: list[tuple[_Row, dict]], now) -> int:
    # One array parameter per column: the statement's size does not grow with the batch.
    columns = list(zip(*[(alert.id, alert.version, *(fields[k] for k in STATE_FIELDS),
                          json.dumps(fields["annotations"]) if "annotations" in fields else None,
                          "acknowledged_by" in fields)
                         for alert, fields in changes]))
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE alerting_alert AS a
               SET state = v.state, active_since = v.active_since, firing_since = v.firing_since,
                   last_true_at = v.last_true_at, resolved_at = v.resolved_at,
                   annotations = COALESCE(v.annotations, a.annotations),
                   acknowledged_by = CASE WHEN v.reset_ack THEN '' ELSE a.acknowledged_by END,
                   acknowledged_at = CASE WHEN v.reset_ack THEN NULL ELSE a.acknowledged_at END,
                   version = a.version + 1, updated_at = %s
               FROM unnest(%s::bigint[], %s::integer[], %s::varchar[], %s::timestamptz[], %s::timestamptz[],
                           %s::timestamptz[], %s::timestamptz[], %s::jsonb[], %s::boolean[])
                    AS v(id, version, state, active_since, firing_since, last_true_at, resolved_at, annotations,
                         reset_ack)
               WHERE a.id = v.id AND a.version = v.version""",
            [now, *(list(column) for column in columns)])
        return cursor.rowcount
