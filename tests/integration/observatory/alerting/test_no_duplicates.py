"""Two real Celery worker processes race through evaluation, dispatch and the outbox on one database:
every notification reaches each receiver exactly once (a real receiver process verifies the signatures)."""

import time
from collections import Counter

import pytest
from django.utils import timezone

from observatory.alerting.tasks import run_alerting
from observatory.delivery.models import Delivery, Endpoint
from observatory.delivery.tasks import send_due_deliveries
from observatory.failover.models import RegionHealth
from observatory.regions.models import AuthFailure, Region
from tests.integration.conftest import start_worker, stop_worker

TIMERS = {"ALERT_GROUP_WAIT_SECONDS": "1", "ALERT_GROUP_INTERVAL_SECONDS": "1", "ALERT_REPEAT_INTERVAL_SECONDS": "3600",
          "INGEST_AUTH_FAILURE_THRESHOLD": "5"}


@pytest.fixture
def two_workers(transactional_db, test_database_url, tmp_path):
    started = [start_worker(test_database_url, tmp_path / f"worker-{i}.log", **TIMERS) for i in range(2)]
    yield [tmp_path / f"worker-{i}.log" for i in range(2)]
    for process, _ in started:
        stop_worker(process)


def race(seconds: float) -> None:
    """Both workers run the alerting cycle and the outbox sweep over and over, concurrently."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run_alerting.delay()
        send_due_deliveries.delay()
        time.sleep(0.05)


def settle(receiver, expected: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        race(0.5)
        if len(receiver.received()) >= expected and not Delivery.objects.filter(state="pending").exists():
            break
    race(3)  # keep racing a while: nothing more may arrive
    return receiver.received()


def group_of(got: dict) -> tuple:
    body = got["body"]
    if got["path"] == "/pd":
        return body["dedup_key"], body["event_action"]
    return body["groupKey"], body["status"]


def test_two_racing_workers_notify_each_receiver_exactly_once(two_workers, webhook_receiver, settings):
    base = webhook_receiver.url.rsplit("/", 1)[0]
    for name, fmt in [("oncall", "alertmanager"), ("pd", "pagerduty")]:
        Endpoint.objects.create(name=name, url=f"{base}/{name}", secret=webhook_receiver.secret, events=["alert.*"],
                                format=fmt, routing_key="R0UT1NG" if fmt == "pagerduty" else "")
    for i in range(6):
        RegionHealth.objects.create(region=Region.objects.create(name=f"r{i}"), state="unhealthy", kinds=["probe"])
    AuthFailure.objects.create(minute=timezone.now().replace(second=0, microsecond=0), remote_addr="203.0.113.7",
                               token_prefix="obs_xxxx", failures=50)

    got = settle(webhook_receiver, expected=14)  # 7 groups (6 regions + IngestAuthFailures) x 2 receivers
    assert all(r["verified"] and r["status"] == 200 for r in got)
    assert len({r["id"] for r in got}) == len(got)  # no webhook-id twice
    assert Counter(r["path"] for r in got) == {"/oncall": 7, "/pd": 7}
    assert all(n == 1 for n in Counter((r["path"], group_of(r)) for r in got).values())  # each group once

    AuthFailure.objects.all().delete()  # the failures age out: IngestAuthFailures resolves
    got = settle(webhook_receiver, expected=16)
    resolved = [(r["path"], group_of(r)[1]) for r in got[14:]]
    assert sorted(resolved) == [("/oncall", "resolved"), ("/pd", "resolve")]
    assert len({r["id"] for r in got}) == len(got) == 16
    assert Delivery.objects.count() == 16 and set(Delivery.objects.values_list("attempts", flat=True)) == {1}

    runs = [log.read_text().count("observatory.alerting.tasks.run_alerting[") for log in two_workers]
    assert all(n > 10 for n in runs), runs  # both workers really raced
