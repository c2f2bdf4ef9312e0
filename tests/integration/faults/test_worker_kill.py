"""A Celery worker SIGKILLed mid-task: the task runs again (acks late) and its side effects happen once.

Killed inside an open transaction (an alerting cycle stalled on a lock), nothing of it
commits and the requeued cycle notifies once. Killed in the middle of sending a webhook,
the receiver holding the request open, the kill lands after the webhook reached it and
before the worker could record the answer: the hardest case. Acks late with
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


def _celery(broker_url: str, database_url: str, log_path, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "observatory", *args], cwd=ROOT,
        env=child_env(DATABASE_URL=database_url, CELERY_BROKER_URL=broker_url, **env), stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT, start_new_session=True)


class Worker:
    def __init__(self, broker_url: str, database_url: str, log_path, *, concurrency: int, **env: str):
        self.hostname = f"fault-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_path
        self.process = _celery(broker_url, database_url, log_path, env, "worker", "--concurrency", str(concurrency),
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
        return self.active(SENDING_TASKS)

    def active_of(self, *names: str):
        """For wait_for: the active task of these names, when there is one."""
        return lambda: self.active(set(names))

    def active(self, names: set) -> dict:
        """The longest-running active task of these names: {id, name, worker_pid}, or {}."""
        # In a child process: in this one CELERY_BROKER_URL (the session broker) wins over any app's broker.
        script = ("import json, sys; from celery import Celery; "
                  "print(json.dumps(Celery(broker=sys.argv[1]).control.inspect(destination=[sys.argv[2]],"
                  " timeout=2.0).active() or {}))")
        found = subprocess.run([sys.executable, "-c", script, self.broker_url, self.hostname], capture_output=True,
                               text=True, timeout=30, env=child_env(CELERY_BROKER_URL=self.broker_url))
        active = json.loads(found.stdout or "{}")
        tasks = [t for t in active.get(self.hostname, []) if t["name"] in names]
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
    """start(name, concurrency=2, beat=False, **env): a worker on the throwaway Redis, and a beat process
    of its own if asked (as in production: one beat, any number of workers)."""
    started: list[Worker] = []
    beats: list[subprocess.Popen] = []

    def start(name: str, *, beat: bool = False, concurrency: int = 2, **env: str) -> Worker:
        worker = Worker(throwaway_redis.url, test_database_url, tmp_path / f"{name}.log", concurrency=concurrency,
                        **env)
        started.append(worker)
        if beat:
            beats.append(_celery(throwaway_redis.url, test_database_url, tmp_path / f"{name}-beat.log", env, "beat",
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


def test_pool_process_killed_inside_a_transaction(transactional_db, workers, throwaway_redis, webhook_receiver,
                                                  test_database_url):
    """Killed while its alerting cycle holds an open transaction (stalled on a lock): nothing of that
    transaction lands, the requeued cycle notifies, and the receiver hears of the alert exactly once."""
    import psycopg

    from observatory.alerting.models import Alert, AlertGroup
    from observatory.failover.models import RegionHealth
    from observatory.regions.models import Region

    Endpoint.objects.create(name="oncall", url=webhook_receiver.url, secret=webhook_receiver.secret,
                            events=["alert.*"])
    RegionHealth.objects.create(region=Region.objects.create(name="eu-west-1"), state="unhealthy", kinds=["probe"])
    worker = workers("worker", ALERT_GROUP_WAIT_SECONDS="0")
    database = re.sub(r"^postgres://", "postgresql://", test_database_url)
    with psycopg.connect(database) as blocker:
        # The cycle's dispatch writes the notification's delivery last, in its transaction: stall it there.
        blocker.execute("LOCK TABLE delivery_delivery IN SHARE ROW EXCLUSIVE MODE")
        run_alerting(throwaway_redis.url, test_database_url)
        with psycopg.connect(database, autocommit=True) as watcher:
            wait_for(lambda: waiting_on_lock(watcher), 30, "the alerting cycle to block inside its transaction")
        task = wait_for(worker.active_of("observatory.alerting.tasks.run_alerting"), 10, "the cycle as active")
        os.kill(task["worker_pid"], signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: len(re.findall(rf"\[{task['id']}\] received", worker.log())) == 2, 30,
                 "acks late: the killed cycle to be delivered to the worker again")
        blocker.rollback()  # the dead process's backend may now run on, but nothing it did can commit

    arrivals = wait_for(webhook_receiver.received, 30, "the notification")
    recovered = time.monotonic() - killed_at
    for _ in range(3):  # more cycles: the alert is already notified, nothing more may go out
        run_alerting(throwaway_redis.url, test_database_url)
    time.sleep(3)
    arrivals = webhook_receiver.received()
    assert len(arrivals) == 1 and arrivals[0]["verified"], arrivals
    assert arrivals[0]["body"]["status"] == "firing"
    assert Delivery.objects.count() == 1 and Alert.objects.count() == 1 and AlertGroup.objects.count() == 1
    print(f"pool process killed inside its transaction: notified {recovered:.1f} s later; "
          f"1 arrival, 1 delivery, 1 alert, 0 duplicates")


def run_alerting(broker_url: str, database_url: str) -> None:
    code = "from observatory.alerting.tasks import run_alerting\nrun_alerting.delay()"
    result = run_manage("shell", "-c", code, DATABASE_URL=database_url, CELERY_BROKER_URL=broker_url)
    assert result.returncode == 0, result.stdout + result.stderr


def waiting_on_lock(connection) -> bool:
    return connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        " AND query ILIKE '%delivery_delivery%'").fetchone()[0] > 0
