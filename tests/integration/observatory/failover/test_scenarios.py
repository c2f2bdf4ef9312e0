"""Failover scenarios end to end: real HTTP probes, the real decider, signed webhooks to a real receiver process."""

import threading
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from observatory.delivery import outbox
from observatory.delivery.models import Delivery
from observatory.failover import decide
from observatory.failover.models import Decision, GroupState, HealthTransition


def deliver_all(timeout: float = 15.0):
    """Send every due delivery here, and wait for any a Celery worker of the suite has claimed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outbox.send_due()
        if not Delivery.objects.filter(state="pending", next_attempt_at__lte=timezone.now()).exists():
            return
        time.sleep(0.1)


def failover_events(receiver):
    return [(r["body"]["type"], r["body"]["from_region"], r["body"]["to_region"]) for r in receiver.received()
            if r["verified"]]


def test_region_outage_sends_exactly_one_failover_requested(world, webhook_receiver):
    world.probe_round(4)
    assert {name: world.state(name) for name in world.regions} == {n: "healthy" for n in world.regions}
    world.outage("us-east-1")
    world.probe_round(1)
    assert world.state("us-east-1") == "suspect" and not Decision.objects.exists()
    world.probe_round(2)
    assert world.state("us-east-1") == "unhealthy"
    world.probe_round(3)  # more rounds and deciders: still one decision
    deliver_all()

    [decision] = Decision.objects.all()
    assert (decision.state, decision.source.name, decision.target.name, decision.epoch) == (
        "dispatched", "us-east-1", "eu-west-1", 1)
    assert all(g["passed"] for g in decision.gates)
    assert failover_events(webhook_receiver) == [("failover.requested", "us-east-1", "eu-west-1")]
    [received] = webhook_receiver.received()
    body = received["body"]
    assert body["decision_id"] == str(decision.id) and body["epoch"] == 1 and body["mode"] == "auto"
    assert body["replication"] == {"target_lag_seconds": 2.0, "rpo_seconds": 30, "lag_state": "ok"}
    assert body["evidence"]["us-east-1"]["evidence"] == ["probe", "partition"]
    assert body["expires_at"] > body["created_at"]
    transitions = list(HealthTransition.objects.filter(region__name="us-east-1").order_by("at")
                       .values_list("to_state", flat=True))
    assert transitions == ["healthy", "suspect", "unhealthy"]


def test_flapping_probe_never_fails_over(world, webhook_receiver):
    world.probe_round(4)
    for status in [503, 503, 200] * 4:
        world.sites.status["us-east-1"] = status
        world.probe_round(1)
        assert world.state("us-east-1") in ("healthy", "suspect")
    deliver_all()
    assert not Decision.objects.exists() and webhook_receiver.received() == []


def test_target_beyond_rpo_needs_approval_with_accepted_data_loss(world, webhook_receiver, operator, client):
    world.probe_round(4)
    world.lag("eu-west-1", 120.0)
    world.lag("ap-south-1", 150.0)
    world.outage()
    world.probe_round(3)
    deliver_all()
    [decision] = Decision.objects.all()
    assert decision.state == "awaiting_approval"
    assert webhook_receiver.received() == []  # nothing goes to the controller without a human

    client.force_login(operator)
    url = f"/api/v1/failovers/{decision.id}/approve"
    refused = client.post(url, {"reason": "region is down"}, content_type="application/json")
    assert refused.status_code == 409 and "accept_data_loss" in refused.json()["detail"]
    approved = client.post(url, {"reason": "region is down, 2 min of orders at risk", "accept_data_loss": True},
                           content_type="application/json")
    assert approved.status_code == 200 and approved.json()["state"] == "dispatched"
    assert approved.json()["approvals"][0]["by"] == "oncall"
    deliver_all()
    assert failover_events(webhook_receiver) == [("failover.approved", "us-east-1", "eu-west-1")]


def test_global_incident_fails_nobody_over(world, webhook_receiver):
    world.probe_round(4)
    for name in world.regions:
        world.sites.status[name] = 503
        world.telemetry(name, fresh=False)
    world.probe_round(4)
    deliver_all()
    assert not Decision.objects.exists() and webhook_receiver.received() == []
    gates = {g["name"]: g["passed"] for g in GroupState.objects.get(group="storefront").last_assessment["gates"]}
    assert gates["not_global_incident"] is False


def test_cooldown_is_honoured_after_a_completed_failover(world, webhook_receiver, operator, client):
    world.probe_round(4)
    world.outage("us-east-1")
    world.probe_round(3)
    [first] = Decision.objects.all()
    client.force_login(operator)
    done = client.post(f"/api/v1/failovers/{first.id}/callback", {"status": "executed", "detail": "DNS switched"},
                       content_type="application/json")
    assert done.status_code == 200 and done.json()["state"] == "completed"
    assert GroupState.objects.get(group="storefront").active_region.name == "eu-west-1"

    world.lag("ap-south-1", 1.0)
    world.outage("eu-west-1")  # the new active region fails within the hour
    world.probe_round(4)
    assert Decision.objects.count() == 1
    gates = {g["name"]: g for g in GroupState.objects.get(group="storefront").last_assessment["gates"]}
    assert gates["cooldown"]["passed"] is False and "cooldown 3600s until" in gates["cooldown"]["detail"]


def test_receiver_down_expires_the_command_and_never_delivers_it_late(world, webhook_receiver):
    world.policy.command_ttl_seconds = 3
    world.policy.save()
    world.probe_round(4)
    webhook_receiver.stop()
    world.outage()
    world.probe_round(3)
    [decision] = Decision.objects.all()
    deadline = time.monotonic() + 20
    while Decision.objects.get(id=decision.id).state == "dispatched" and time.monotonic() < deadline:
        outbox.send_due()
        time.sleep(0.2)
    decision.refresh_from_db()
    assert decision.state == "expired" and "expired" in decision.outcome_detail
    [delivery] = Delivery.objects.filter(event_type="failover.requested")
    assert delivery.state == "expired" and delivery.attempts >= 2
    webhook_receiver.start()
    Delivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())
    deliver_all()
    assert webhook_receiver.received() == []


def test_racing_deciders_make_one_decision(world):
    world.probe_round(4)
    world.outage()
    for _ in range(3):
        world.probe_round(1)
    # Drop the decision the rounds made, then race: with the lease, and with the lease expired under both.
    Decision.objects.all().delete()
    GroupState.objects.all().update(last_failover_at=None)
    from observatory.failover.models import Lease

    barrier = threading.Barrier(4)
    made = []

    def racer(holder):
        try:
            barrier.wait()
            if holder.startswith("lease-free"):
                Lease.objects.all().update(expires_at=timezone.now() - timedelta(seconds=1))
            made.extend(decide.run_decider(holder))
        finally:
            connection.close()

    threads = [threading.Thread(target=racer, args=(name,)) for name in
               ("decider-a", "decider-b", "lease-free-c", "lease-free-d")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert Decision.objects.count() == 1 and len(made) == 1
    assert Decision.objects.get().epoch == GroupState.objects.get(group="storefront").epoch
