import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from observatory.delivery import outbox
from observatory.delivery.models import Delivery, Endpoint


@pytest.fixture
def endpoint(transactional_db, webhook_receiver):
    return Endpoint.objects.create(name="controller", url=webhook_receiver.url, secret=webhook_receiver.secret,
                                   events=["failover.*"])


def send_now(delivery: Delivery) -> str:
    Delivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())
    [(claimed, token)] = outbox.claim(delivery_id=delivery.id)
    return outbox.attempt(claimed, token)


def test_delivered_once_signed_with_standard_webhooks_headers(endpoint, webhook_receiver):
    [delivery] = outbox.enqueue("failover.requested", {"decision_id": "d1", "epoch": 1})
    assert send_now(delivery) == "delivered"
    [got] = webhook_receiver.received()
    assert got["verified"] and got["id"] == delivery.webhook_id
    assert got["body"] == {"decision_id": "d1", "epoch": 1}
    attempt = delivery.attempt_log.get()
    assert (attempt.number, attempt.status_code, attempt.outcome) == (1, 200, "delivered")
    assert attempt.duration_ms > 0


def test_subscription_patterns_pick_endpoints(endpoint, webhook_receiver):
    Endpoint.objects.create(name="oncall", url=webhook_receiver.url, secret="whsec_MDEyMzQ1Njc4OTAxMjM0NQ==",
                            events=["alert.*"])
    assert [d.endpoint.name for d in outbox.enqueue("failover.requested", {})] == ["controller"]
    assert [d.endpoint.name for d in outbox.enqueue("alert.firing", {})] == ["oncall"]
    assert outbox.enqueue("region.changed", {}) == []


def test_retries_keep_the_same_webhook_id_and_record_every_attempt(endpoint, webhook_receiver):
    webhook_receiver.script([503, 500])
    [delivery] = outbox.enqueue("failover.requested", {"n": 1})
    assert send_now(delivery) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at > timezone.now() and delivery.last_error == "HTTP 503"
    assert send_now(delivery) == "pending"
    assert send_now(delivery) == "delivered"
    ids = [r["id"] for r in webhook_receiver.received()]
    assert ids == [delivery.webhook_id] * 3
    assert [a.status_code for a in delivery.attempt_log.all()] == [503, 500, 200]


def test_retry_after_is_honoured(endpoint, webhook_receiver):
    webhook_receiver.script([429], retry_after=5)
    [delivery] = outbox.enqueue("failover.requested", {})
    before = timezone.now()
    send_now(delivery)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at >= before + timedelta(seconds=5)


def test_permanent_error_stops_and_410_disables_the_endpoint(endpoint, webhook_receiver):
    webhook_receiver.script([400])
    [bad] = outbox.enqueue("failover.requested", {})
    assert send_now(bad) == "failed"
    webhook_receiver.script([410])
    [gone] = outbox.enqueue("failover.requested", {})
    assert send_now(gone) == "failed"
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert outbox.enqueue("failover.requested", {}) == []  # disabled endpoints get nothing new


def test_receiver_down_retries_until_expiry_then_never_delivers_late(endpoint, webhook_receiver):
    expired = []
    outbox.delivery_expired.connect(lambda sender, delivery, **kw: expired.append(delivery.id), weak=False)
    webhook_receiver.stop()
    [delivery] = outbox.enqueue("failover.requested", {"decision_id": "late"},
                                expires_at=timezone.now() + timedelta(seconds=3))
    deadline = time.monotonic() + 15
    while Delivery.objects.get(id=delivery.id).state == "pending" and time.monotonic() < deadline:
        outbox.send_due()
        time.sleep(0.2)
    delivery.refresh_from_db()
    assert delivery.state == "expired"
    assert delivery.attempts >= 2 and all(a.status_code is None for a in delivery.attempt_log.all())
    assert expired == [delivery.id]
    webhook_receiver.start()
    Delivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())
    assert outbox.send_due() == 0
    assert webhook_receiver.received() == []


def test_racing_senders_deliver_each_message_exactly_once(endpoint, webhook_receiver):
    deliveries = [outbox.enqueue("failover.requested", {"n": i})[0] for i in range(30)]

    def sender():
        try:
            for _ in range(5):
                outbox.send_due(limit=5)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = [r["id"] for r in webhook_receiver.received()]
    assert sorted(ids) == sorted(d.webhook_id for d in deliveries)
    assert Delivery.objects.filter(state="delivered").count() == 30


def test_a_real_worker_sends_right_after_commit(endpoint, webhook_receiver, celery_worker):
    [delivery] = outbox.enqueue("failover.requested", {"via": "worker"})
    deadline = time.monotonic() + 20
    while not webhook_receiver.received() and time.monotonic() < deadline:
        time.sleep(0.1)
    [got] = webhook_receiver.received()
    assert got["id"] == delivery.webhook_id and got["verified"]


def sweep() -> int:
    """One outbox sweep here; pending rows are parked in the future before and after it, so a suite
    Celery worker's scheduled retries (another process, other breaker settings) never claim them."""
    Delivery.objects.filter(state="pending").update(next_attempt_at=timezone.now())
    sent = outbox.send_due()
    Delivery.objects.filter(state="pending").update(next_attempt_at=timezone.now() + timedelta(hours=1))
    return sent


def test_circuit_breaker_holds_a_dead_endpoint_then_probes_once(endpoint, webhook_receiver, settings):
    from observatory.delivery.models import Circuit, DeliveryAttempt

    settings.DELIVERY_BREAKER_FAILURES, settings.DELIVERY_BREAKER_COOLDOWN_SECONDS = 3, 2
    webhook_receiver.script([503] * 4)
    later = timezone.now() + timedelta(hours=1)
    deliveries = [Delivery.objects.create(endpoint=endpoint, event_type="failover.requested", payload={"n": i},
                                          next_attempt_at=later) for i in range(6)]
    assert sweep() == 6  # three failures open the breaker; the other three are held, unsent
    circuit = Circuit.objects.get(endpoint=endpoint)
    assert (circuit.state, circuit.failures) == ("open", 3)
    assert len(webhook_receiver.received()) == 3 and DeliveryAttempt.objects.count() == 3
    assert sorted(d.attempts for d in Delivery.objects.all()) == [0, 0, 0, 1, 1, 1]  # a hold is not an attempt
    assert sweep() == 0  # open: nothing is even claimed

    time.sleep(2.1)  # cool-down over: the sweep's first claim is the one probe, the rest wait for it
    assert sweep() == 6
    got = webhook_receiver.received()
    assert len(got) == 4 and got[3]["at"] >= circuit.open_until.timestamp()
    reopened = Circuit.objects.get(endpoint=endpoint)
    assert reopened.state == "open" and reopened.open_until > circuit.open_until  # the failed probe reopened it

    time.sleep(2.1)  # this probe succeeds: closed, and every queued delivery goes out once
    deadline = time.monotonic() + 15
    while Delivery.objects.filter(state="pending").exists() and time.monotonic() < deadline:
        sweep()
    assert Delivery.objects.filter(state="delivered").count() == 6
    assert Circuit.objects.get(endpoint=endpoint).state == "closed"
    got = webhook_receiver.received()
    assert all(r["verified"] for r in got) and [r["status"] for r in got] == [503] * 4 + [200] * 6
    assert got[4]["at"] >= reopened.open_until.timestamp()
    assert sorted(r["id"] for r in got[4:]) == sorted(d.webhook_id for d in deliveries)
    assert DeliveryAttempt.objects.count() == len(got) == sum(d.attempts for d in Delivery.objects.all())
