from celery import shared_task
from django.utils import timezone

from observatory.ops.models import Heartbeat


@shared_task
def record_heartbeat(name: str = "beat") -> str:
    """Upsert the named heartbeat; idempotent, so a retry only moves the time forward."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": now})
    return now.isoformat()
