"""A Celery worker SIGKILLed in the middle of sending a webhook: the work is done again, once.

The receiver holds the first request open, so the kill lands after the webhook reached it
and before the worker could record the answer: the hardest case. Acks late with
reject-on-worker-lost puts the task back on the queue; the delivery's claim (a lease,
LEASE_SECONDS) keeps the requeued task and the sweep from sending it twice while the
dead worker might still be sending; once the lease ends the sweep sends it again, with
the same webhook-id, so the receiver can drop the repeat. Each test runs its own workers
on a throwaway Redis, so the session worker never takes their tasks.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest

from observatory.delivery.models import Delivery, DeliveryAttempt, Endpoint
from observatory.delivery.outbox import LEASE_SECONDS
from tests.conftest import ROOT, child_env, run_manage

ENQUEUE = ("from django.db import transaction\nfrom observatory.delivery import outbox\n"
           "with transaction.atomic():\n    outbox.enqueue('alert.firing', {'alert': 'RegionDown', 'n': 1})")
HOLD_SECONDS = 120  # longer than the whole test: the killed worker's request is never answered
SENDING_TASKS = {"observatory.delivery.tasks.send_delivery", "observatory.delivery.tasks.send_due_deliveries"}


def _celery(broker_url: str, database_url: str, log_path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "observatory", *args], cwd=ROOT,
        env=child_env(DATABASE_URL=database_url, CELERY_BROKER_URL=broker_url), stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT, start_new_session=True)


class Worker:
    def __init__(self, broker_url: str, database_url: str, log_path, *, concurrency: int):
        self.hostname = f"fault-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_path
        self.process = _celery(broker_url, database_url, log_path, "worker", "--concurrency", str(concurrency),
                               "--loglevel", "INFO", "--hostname", self.hostname, "--without-gossip",
                               "--without-mingle")
        self.broker_url = broker_url
        deadline = time.monotonic() + 60
        while f"{self.hostname} ready." not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"celery worker did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sending(self) -> dict:
        """The active task that is sending a webhook: {id, name, worker_pid}, or {}."""
        # In a child process: in this one CELERY_BROKER_URL (the session broker) wins over any app's broker.
        script = ("import json, sys; from celery import Celery; "
                  "print(json.dumps(Celery(broker=sys.argv[1]).control.inspect(destination=[sys.argv[2]],"
                  " timeout=2.0).active() or {}))")
        found = subprocess.run([sys.executable, "-c", script, self.broker_url, self.hostname], capture_output=True,
                               text=True, timeout=30, env=child_env(CELERY_BROKER_URL=self.broker_url))
        active = json.loads(found.stdout or "{}")
        tasks = [t for t in active.get(self.hostname, []) if t["name"] in SENDING_TASKS]
        return min(tasks, key=lambda t: t.get("time_start") or 0, default={})

    def kill(self) -> None:
        """SIGKILL the whole worker: its main process and every child (the machine died)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers(transactional_db, throwaway_redis, test_database_url, tmp_path):
    """start(name, concurrency=2, beat=False): a worker on the throwaway Redis, and a beat process if asked
    (its own process: a worker's embedded beat (-B) stops it answering pings and inspect)."""
    started: list[Worker] = []
    beats: list[subprocess.Popen] = []

    def start(name: str, *, beat: bool = False, concurrency: int = 2) -> Worker:
        worker = Worker(throwaway_redis.url, test_database_url, tmp_path / f"{name}.log", concurrency=concurrency)
        started.append(worker)
        if beat:
            beats.append(_celery(throwaway_redis.url, test_database_url, tmp_path / f"{name}-beat.log", "beat",
                                 "--loglevel", "INFO", "--schedule", str(tmp_path / f"{name}-beat.schedule")))
        return worker

    yield start
    for beat in beats:
        beat.terminate()
        beat.wait(timeout=20)
    for worker in started:
        worker.stop()


@pytest.fixture
def held_receiver(transactional_db, webhook_receiver):
    Endpoint.objects.create(name="oncall", url=webhook_receiver.url, secret=webhook_receiver.secret,
                            events=["alert.*"])
    webhook_receiver.script([], hold_seconds=[HOLD_SECONDS])
    return webhook_receiver


def enqueue(broker_url: str, database_url: str) -> Delivery:
    result = run_manage("shell", "-c", ENQUEUE, DATABASE_URL=database_url, CELERY_BROKER_URL=broker_url)
    assert result.returncode == 0, result.stdout + result.stderr
    return Delivery.objects.get()


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def assert_delivered_once(receiver, delivery: Delivery, killed_at: float) -> float:
    """Delivered, recorded once, and every request the receiver saw carried the one webhook-id."""
    wait_for(lambda: Delivery.objects.get(id=delivery.id).state == Delivery.State.DELIVERED, LEASE_SECONDS + 60,
             "the delivery to be re-sent after the kill")
    recovered = time.monotonic() - killed_at
    arrivals = receiver.received()
    assert [a["id"] for a in arrivals] == [delivery.webhook_id] * 2, arrivals  # the held one, then the re-send
    assert all(a["verified"] for a in arrivals)
    assert Delivery.objects.count() == 1
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery))
    assert [(a.outcome, a.status_code) for a in attempts] == [("delivered", 200)]  # the killed attempt left no row
    return recovered


def test_pool_process_killed_mid_send(held_receiver, workers, throwaway_redis, test_database_url):
    """The OOM killer takes the pool process: the task is requeued and run again, the webhook goes out once more
    with the same id, and nothing else is sent twice."""
    worker = workers("worker", beat=True)
    delivery = enqueue(throwaway_redis.url, test_database_url)
    wait_for(held_receiver.received, 30, "the webhook to reach the receiver")
    task = wait_for(worker.sending, 10, "the sending task to show as active")
    os.kill(task["worker_pid"], signal.SIGKILL)
    killed_at = time.monotonic()

    recovered = assert_delivered_once(held_receiver, delivery, killed_at)
    log = worker.log()
    assert re.search(r"WorkerLostError|exited prematurely: signal 9", log), log[-3000:]
    assert len(re.findall(rf"Task {re.escape(task['name'])}\[{task['id']}\] received", log)) == 2, \
        "acks late: the killed task was not delivered to the worker again"
    assert worker.process.poll() is None  # the worker replaced its pool process and carried on
    print(f"pool process killed: re-sent and delivered {recovered:.1f} s later (lease {LEASE_SECONDS} s); "
          f"2 arrivals, 1 webhook-id, 0 duplicate deliveries")


def test_whole_worker_killed_mid_send(held_receiver, workers, throwaway_redis, test_database_url):
    """The machine running the only worker dies: a worker started elsewhere sends the webhook once the dead
    worker's claim runs out, and its own sweep never sends it a third time."""
    first = workers("first", concurrency=1)
    delivery = enqueue(throwaway_redis.url, test_database_url)
    wait_for(held_receiver.received, 30, "the webhook to reach the receiver")
    first.kill()
    killed_at = time.monotonic()
    second = workers("second", beat=True)

    recovered = assert_delivered_once(held_receiver, delivery, killed_at)
    time.sleep(5)  # the second worker's sweep keeps running: it must not send the delivered webhook again
    assert len(held_receiver.received()) == 2
    assert "send_due_deliveries" in second.log()
    print(f"whole worker killed: delivered by another worker {recovered:.1f} s later (lease {LEASE_SECONDS} s); "
          f"2 arrivals, 1 webhook-id, 0 duplicate deliveries")
