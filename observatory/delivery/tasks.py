from celery import shared_task

from observatory.delivery import outbox


@shared_task
def send_delivery(delivery_id: str) -> str | None:
    """Send one delivery now if it is due and unclaimed; a no-op otherwise (the sweep covers misses)."""
    for claimed_id, token in outbox.claim(delivery_id=delivery_id, limit=1):
        return outbox.attempt(claimed_id, token)
    return None


@shared_task
def send_due_deliveries() -> int:
    return outbox.send_due()
