"""Redis (the broker) stopped: ingest carries on, and the periodic jobs pick up again when it is back."""

import subprocess
import sys
import time

import pytest
import requests

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token
from observatory.telemetry.models import SeriesMinute
from tests.conftest import ROOT, child_env
from tests.integration.observatory.telemetry.test_rollups import gauge_request

OUTAGE_SECONDS = 20  # bench/faults.py runs the issue's full 60 s


def push(url: str, token: str, value: int) -> int:
    from datetime import datetime, timezone

    body = gauge_request([(datetime.now(timezone.utc), value)]).SerializeToString()
    return requests.post(f"{url}/v1/metrics", data=body, timeout=10, headers={
        "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"}).status_code


@pytest.fixture
def worker_with_beat(throwaway_redis, test_database_url, tmp_path):
    log = open(tmp_path / "worker.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "observatory", "worker", "-B", "--concurrency", "1",
         "--loglevel", "INFO", "--schedule", str(tmp_path / "beat-schedule"), "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env=child_env(DATABASE_URL=test_database_url, CELERY_BROKER_URL=throwaway_redis.url),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_ingest_survives_a_broker_outage_and_jobs_resume(transactional_db, throwaway_redis, worker_with_beat,
                                                         start_web, test_database_url):
    url = start_web(DATABASE_URL=test_database_url, CELERY_BROKER_URL=throwaway_redis.url)
    token = issue_token(Region.objects.create(name="us-east-1"))
    assert push(url, token, 1) == 200
    deadline = time.monotonic() + 60  # the beat rolls minutes up every 15 s
    while not SeriesMinute.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert SeriesMinute.objects.exists(), "the periodic rollup never ran before the outage"

    throwaway_redis.stop()
    statuses = []
    outage_end = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < outage_end:
        statuses.append(push(url, token, 100 + len(statuses)))
        time.sleep(2)
    assert set(statuses) == {200}, statuses  # OTLP ingest does not need the broker
    health = requests.get(f"{url}/healthz", timeout=10)
    assert health.status_code == 503 and "Retry-After" in health.headers  # but the outage is visible

    throwaway_redis.start()
    back = time.monotonic()
    last = 100 + len(statuses) - 1
    while time.monotonic() - back < 60 and not SeriesMinute.objects.filter(last=last).exists():
        time.sleep(0.5)
    resumed = time.monotonic() - back
    assert SeriesMinute.objects.filter(last=last).exists(), "periodic jobs did not resume within 60 s"
    print(f"periodic rollups resumed {resumed:.1f} s after the broker came back")
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
