"""The webhook outbox: enqueue in the caller's transaction, claim with a conditional
UPDATE, send signed (Standard Webhooks), record every attempt.

A delivery keeps its id (the webhook-id header) across retries, so receivers can
deduplicate; every state change is fenced by the claim that sent it, so two
workers never both finish the same row. A delivery past its expires_at is marked
EXPIRED and never sent late.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

import django.dispatch
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook

from observatory import outbound, selfmetrics
from observatory.delivery import circuit, policy
from observatory.delivery.models import Delivery, DeliveryAttempt, Endpoint

log = logging.getLogger(__name__)

LEASE_SECONDS = 30
# Expiring messages (failover commands) retry fast; others back off up to an hour.
FAST_RETRY, FAST_CAP = 1.0, 10.0
SLOW_RETRY, SLOW_CAP = 5.0, 3600.0

delivery_expired = django.dispatch.Signal()  # sender=Delivery, delivery=<Delivery>
delivery_finished = django.dispatch.Signal()  # sender=Delivery, delivery=<Delivery>


def enqueue(event_type: str, payload: dict, *, endpoints: list[str] | None = None, expires_at=None) -> list[Delivery]:
    """Create one delivery per enabled endpoint that subscribes to the event (or per named endpoint)."""
    candidates = Endpoint.objects.filter(enabled=True)
    if endpoints is not None:
        candidates = candidates.filter(name__in=endpoints)
    now = timezone.now()
    deliveries = [
        Delivery.objects.create(endpoint=endpoint, event_type=event_type, payload=payload, next_attempt_at=now,
                                expires_at=expires_at)
        for endpoint in candidates
        if endpoints is not None or endpoint.wants(event_type)
    ]
    if deliveries:
        from observatory.delivery.tasks import send_delivery

        ids = [str(d.id) for d in deliveries]
        transaction.on_commit(lambda: [send_delivery.delay(i) for i in ids])
    return deliveries


def claim(delivery_id=None, limit: int = 50) -> list[tuple[str, str]]:
    """Claim due pending deliveries (or one by id): [(id, claim)]. Safe with any number of workers."""
    token = uuid.uuid4()
    now = timezone.now()
    by_id = "AND id = %s" if delivery_id else ""
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    params = [token.hex if connection.vendor != "postgresql" else token, now + timedelta(seconds=LEASE_SECONDS)]
    inner = [now, now] + ([_db_uuid(delivery_id)] if delivery_id else []) + [now, limit]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE delivery_delivery SET claim = %s, claimed_until = %s, attempts = attempts + 1
                WHERE id IN (SELECT id FROM delivery_delivery
                             WHERE state = 'pending' AND next_attempt_at <= %s
                               AND (claimed_until IS NULL OR claimed_until < %s) {by_id}
                               AND endpoint_id NOT IN (SELECT endpoint_id FROM delivery_circuit
                                                       WHERE state <> 'closed' AND open_until > %s)
                             ORDER BY next_attempt_at LIMIT %s {lock})
                RETURNING id, next_attempt_at, created_at""",
            params + inner,
        )
        rows = sorted(cursor.fetchall(), key=lambda row: (row[1], row[2]))  # RETURNING has no order
        return [(str(row[0]), str(token)) for row in rows]


def _db_uuid(value):
    return uuid.UUID(str(value)).hex if connection.vendor != "postgresql" else uuid.UUID(str(value))


def sign(secret: str, webhook_id: str, at, body: str) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
        "Content-Type": "application/json",
    }


def attempt(delivery_id: str, claim_token: str) -> str:
    """Send a claimed delivery once and record the outcome; returns the delivery's new state."""
    delivery = Delivery.objects.select_related("endpoint").get(id=delivery_id)
    if str(delivery.claim) != claim_token or delivery.state != Delivery.State.PENDING:
        return delivery.state  # someone else finished or re-claimed it
    now = timezone.now()
    if delivery.expires_at and now >= delivery.expires_at:
        return _finish(delivery, claim_token, Delivery.State.EXPIRED, "expired before it could be delivered")
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        return _finish(delivery, claim_token, Delivery.State.FAILED, f"endpoint disabled: {endpoint.disabled_reason}")
    admitted, retry_at = circuit.admit(endpoint.id, now)
    if admitted == policy.HOLD:
        return _hold(delivery, claim_token, max(retry_at or now, now + timedelta(seconds=1)))
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
    timeout = 10.0
    if delivery.expires_at:
        timeout = max(0.5, min(timeout, (delivery.expires_at - now).total_seconds()))
    outcome = outbound.request("POST", endpoint.url, body=body.encode(), timeout=timeout,
                               headers=sign(endpoint.secret, delivery.webhook_id, now, body))
    verdict = policy.classify(outcome.status)
    selfmetrics.WEBHOOK_ATTEMPTS.labels(delivery.event_type, verdict).inc()
    DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts, at=now, status_code=outcome.status,
                                   duration_ms=outcome.duration_ms, error=outcome.error[:500], outcome=verdict)
    circuit.record(endpoint.id, verdict != policy.RETRY, timezone.now())  # a 4xx answer still proves the receiver is up
    if verdict == policy.DELIVERED:
        return _finish(delivery, claim_token, Delivery.State.DELIVERED, "")
    error = outcome.error or f"HTTP {outcome.status}"
    if verdict == policy.GONE:
        Endpoint.objects.filter(id=endpoint.id).update(enabled=False, disabled_reason=f"answered 410 Gone at {now:%Y-%m-%d %H:%M:%SZ}")
        return _finish(delivery, claim_token, Delivery.State.FAILED, f"{error}: endpoint disabled")
    if verdict == policy.PERMANENT:
        return _finish(delivery, claim_token, Delivery.State.FAILED, error)
    base, cap = (FAST_RETRY, FAST_CAP) if delivery.expires_at else (SLOW_RETRY, SLOW_CAP)
    delay = policy.retry_delay(delivery.attempts, base, cap, outcome.retry_after_seconds)
    next_at = timezone.now() + timedelta(seconds=delay)
    if delivery.expires_at and next_at >= delivery.expires_at:
        return _finish(delivery, claim_token, Delivery.State.EXPIRED, f"{error}; no time left before expiry")
    Delivery.objects.filter(id=delivery.id, claim=claim_token, state=Delivery.State.PENDING).update(
        next_attempt_at=next_at, claimed_until=None, last_error=error[:500])
    from observatory.delivery.tasks import send_delivery

    send_delivery.apply_async((str(delivery.id),), countdown=delay)
    return Delivery.State.PENDING


def _hold(delivery: Delivery, claim_token: str, until) -> str:
    """The endpoint's breaker is open: put the delivery back untouched (this was not an attempt)."""
    Delivery.objects.filter(id=delivery.id, claim=claim_token, state=Delivery.State.PENDING).update(
        attempts=F("attempts") - 1, next_attempt_at=until, claimed_until=None)
    return Delivery.State.PENDING


def _finish(delivery: Delivery, claim_token: str, state: str, error: str) -> str:
    updated = Delivery.objects.filter(id=delivery.id, claim=claim_token, state=Delivery.State.PENDING).update(
        state=state, finished_at=timezone.now(), claimed_until=None, last_error=error[:500])
    if not updated:
        return Delivery.objects.get(id=delivery.id).state
    delivery.refresh_from_db()
    selfmetrics.WEBHOOK_FINISHED.labels(delivery.event_type, state).inc()
    log.log(logging.WARNING if state == Delivery.State.EXPIRED else logging.INFO,"delivery %s (%s to %s): %s %s", delivery.webhook_id, delivery.event_type, delivery.endpoint.name,
             state, error)
    if state == Delivery.State.EXPIRED:
        delivery_expired.send(sender=Delivery, delivery=delivery)
    delivery_finished.send(sender=Delivery, delivery=delivery)
    return state


def send_due(limit: int = 50) -> int:
    sent = 0
    for delivery_id, token in claim(limit=limit):
        attempt(delivery_id, token)
        sent += 1
    return sent
