"""Delivery outcomes of failover commands update their decision."""

import uuid

from django.dispatch import receiver

from observatory.delivery.models import Delivery
from observatory.delivery.outbox import delivery_finished
from observatory.failover.models import Decision

COMMANDS = ("failover.requested", "failover.approved")


@receiver(delivery_finished, sender=Delivery)
def _command_finished(sender, delivery: Delivery, **kwargs):
    if delivery.event_type not in COMMANDS or delivery.state == Delivery.State.DELIVERED:
        return
    try:
        decision_id = uuid.UUID(str(delivery.payload.get("decision_id")))
    except ValueError:
        return  # not one of ours
    new_state = Decision.State.EXPIRED if delivery.state == Delivery.State.EXPIRED else Decision.State.FAILED
    Decision.objects.filter(id=decision_id, state=Decision.State.DISPATCHED).update(
        state=new_state, outcome_detail=f"command {delivery.webhook_id} to {delivery.endpoint.name}: "
                                        f"{delivery.state} ({delivery.last_error})")
