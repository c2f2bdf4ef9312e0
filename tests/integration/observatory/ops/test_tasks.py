import time

import pytest
from django.utils import timezone

from observatory.ops.models import Heartbeat
from observatory.ops.tasks import record_heartbeat


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_task_round_trips_through_a_real_worker_on_redis(celery_worker, settings):
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    sent_at = timezone.now()
    record_heartbeat.delay("roundtrip")
    assert wait_for(lambda: Heartbeat.objects.filter(name="roundtrip").exists()), "the worker never ran the task"
    beat = Heartbeat.objects.get(name="roundtrip")
    assert beat.beat_at >= sent_at


@pytest.mark.django_db(transaction=True)
def test_retried_heartbeat_is_idempotent(celery_worker):
    for _ in range(3):
        record_heartbeat.delay("repeat")
    assert wait_for(lambda: Heartbeat.objects.filter(name="repeat").exists())
    time.sleep(0.5)
    assert Heartbeat.objects.filter(name="repeat").count() == 1
