import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import ROOT, child_env


@pytest.fixture(scope="session", autouse=True)
def _static(collected_static):
    pass


@pytest.fixture(autouse=True)
def _fresh_ingest_caches():
    """Token, series and limiter caches are per process; tests must not see each other's."""
    from collectors import auth, views
    from observatory.telemetry import health_signals, ingest

    auth.clear_cache()
    views._limiters.clear()
    views._fingerprints.clear()
    ingest._known_series.clear()
    ingest._last_seen_written.clear()
    health_signals.reset_cache()
    yield


@pytest.fixture(autouse=True)
def _truncate_raw_telemetry(request, django_db_blocker):
    """Raw telemetry tables are not Django models, so the test flush does not empty them."""
    yield
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        from django.db import connection

        from observatory.telemetry.partitions import RAW_TABLES

        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(RAW_TABLES)}")


@pytest.fixture(scope="session")
def celery_worker(test_database_url, tmp_path_factory):
    """A real Celery worker process on the test broker (Redis) and the test database."""
    from django.conf import settings

    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # no stale messages from earlier runs
    multiproc_dir = tmp_path_factory.mktemp("prometheus")  # the worker's samples, for a web process's /metrics
    process, hostname = start_worker(test_database_url, tmp_path_factory.mktemp("celery") / "worker.log",
                                     PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir))
    process.multiproc_dir = multiproc_dir
    _session_workers.append(hostname)
    yield process
    _session_workers.remove(hostname)
    stop_worker(process)


_session_workers: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    """Before a test's database is flushed, let the session worker finish what that test queued.

    Without this, a task a test enqueued (or a retry or delayed dispatch it scheduled) runs in the
    shared worker while the next flush TRUNCATEs the tables under it: a deadlock, or rows written
    into the next test. Runs before the fixtures' own teardown (the flush)."""
    if _session_workers:
        quiesce(_session_workers)
    yield


def quiesce(hostnames: list[str], timeout: float = 20.0) -> None:
    from observatory.celery import app

    app.control.purge()
    inspect = app.control.inspect(destination=hostnames, timeout=1.0)
    for tasks in (inspect.scheduled() or {}).values():  # countdown / retry tasks held by the worker
        for task in tasks:
            app.control.revoke(task["request"]["id"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [t for found in ((inspect.active() or {}), (inspect.reserved() or {})) for ts in found.values()
                for t in ts]
        if not busy:
            return
        time.sleep(0.2)


def start_worker(database_url: str, log_path, concurrency: int = 2, **env: str) -> tuple[subprocess.Popen, str]:
    """Start a real Celery worker process (env overrides its settings) and wait until it answers a ping."""
    from observatory.celery import app

    hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "observatory", "worker", "--concurrency", str(concurrency),
         "--loglevel", "INFO", "--hostname", hostname, "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=child_env(DATABASE_URL=database_url, **env), stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[hostname], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"celery worker did not start:\n{log_path.read_text()[-3000:]}")
    return process, hostname


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
