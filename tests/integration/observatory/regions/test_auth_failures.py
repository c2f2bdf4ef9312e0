"""Rejected ingest requests are counted per minute with one upsert, and raise IngestAuthFailures."""

import textwrap

from django.db import connection
from django.test import Client

from observatory.alerting.evaluate import evaluate_alerts
from observatory.alerting.models import Alert
from observatory.regions.models import AuthFailure, Region
from observatory.regions.tokens import issue_token
from tests.conftest import run_manage

PROTOBUF = "application/x-protobuf"


def post(client: Client, path: str, token: str, **extra):
    # headers= because the test client drops content_type when the body is empty
    return client.generic("POST", path, b"", content_type=PROTOBUF,
                          headers={"Content-Type": PROTOBUF, "Authorization": f"Bearer {token}"}, **extra)


def reject(client: Client, n: int, path="/v1/metrics", token="obs_stolenXYZ", addr="203.0.113.7") -> None:
    for _ in range(n):
        response = post(client, path, token, REMOTE_ADDR=addr)
        assert response.status_code == 401


def test_401s_are_counted_per_minute_and_source_and_fire_the_alert_over_the_threshold(transactional_db, settings):
    settings.INGEST_AUTH_FAILURE_THRESHOLD, settings.INGEST_AUTH_FAILURE_WINDOW_SECONDS = 10, 300
    region = Region.objects.create(name="us-east-1")
    client = Client()
    good = post(client, "/v1/metrics", issue_token(region))
    assert good.status_code == 200  # accepted requests are not counted
    reject(client, 6)
    reject(client, 4, path="/v1/traces", token="obs_otherABC", addr="198.51.100.9")
    rows = {(r.remote_addr, r.token_prefix): r.failures for r in AuthFailure.objects.all()}
    assert rows == {("203.0.113.7", "obs_stol"): 6, ("198.51.100.9", "obs_othe"): 4}  # the token itself is not kept
    evaluate_alerts()
    assert not Alert.objects.filter(labels__alertname="IngestAuthFailures").exists()  # 10 is not over 10
    reject(client, 1)
    evaluate_alerts()
    alert = Alert.objects.get(labels__alertname="IngestAuthFailures")
    assert alert.state == "firing" and alert.labels["severity"] == "ticket"
    assert alert.annotations["summary"].startswith("11 ingest requests rejected with 401 in the last 300s")
    assert "203.0.113.7 (token obs_stol…): 7" in alert.annotations["description"]


def test_counting_that_fails_still_answers_401_never_500(transactional_db):
    client = Client()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE regions_authfailure RENAME TO regions_authfailure_away")
    try:
        reject(client, 2)  # the upsert fails: logged, and the answer is still 401
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE regions_authfailure_away RENAME TO regions_authfailure")
    reject(client, 1)
    assert AuthFailure.objects.get().failures == 1


def test_the_upsert_works_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'obs.sqlite3'}"
    assert run_manage("migrate", "-v", "0", DATABASE_URL=url).returncode == 0
    script = textwrap.dedent("""
        from django.utils import timezone
        from observatory.regions import auth_failures
        now = timezone.now()
        for _ in range(3):
            auth_failures.record("192.0.2.1", "Bearer obs_abcdefgh", now)
        print(auth_failures.summarise(now.replace(second=0, microsecond=0)))
    """)
    result = run_manage("shell", "-v", "0", "-c", script, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(3, [('192.0.2.1', 'obs_abcd', 3)])"
