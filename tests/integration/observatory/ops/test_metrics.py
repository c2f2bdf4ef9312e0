import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families


def sample(text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


@pytest.mark.django_db
def test_metrics_counts_requests_by_route_and_status(client):
    before = client.get("/metrics").content.decode()
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    after = response.content.decode()
    key = dict(method="GET", view="healthz", status="200")
    assert sample(after, "observatory_http_requests_total", **key) - sample(before, "observatory_http_requests_total", **key) == 2
    unmatched = dict(method="GET", view="unmatched", status="404")
    assert sample(after, "observatory_http_requests_total", **unmatched) >= 1
    assert sample(after, "observatory_http_request_duration_seconds_count", method="GET", view="healthz") >= 2


def test_metrics_survive_a_database_outage(start_web):
    import requests

    base = start_web(DATABASE_URL="postgres://postgres@127.0.0.1:1/observatory")
    response = requests.get(f"{base}/metrics", timeout=20)
    assert response.status_code == 200
    assert "observatory_db_gauges_up 0.0" in response.text


def _assert_promtool_accepts(text: bytes) -> None:

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; bin/test installs it as root)")
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


@pytest.mark.django_db
def test_promtool_accepts_the_exposition(client):
    client.get("/healthz")
    _assert_promtool_accepts(client.get("/metrics").content)


def test_metrics_cover_tasks_queue_alerts_and_anomalies(transactional_db, celery_worker, test_database_url,
                                                         start_web, tmp_path):
    """Task timings written by a real worker process reach /metrics of a real web process (multiprocess
    mode), next to the queue depth, open alerts and active anomalies read at scrape time."""
    import time

    import requests
    from django.utils import timezone

    from observatory.alerting.models import Alert
    from observatory.detection.models import Anomaly
    from observatory.ops.tasks import record_heartbeat
    from observatory.regions.models import Region

    region = Region.objects.create(name="us-east-1")
    Alert.objects.create(fingerprint="f1", labels={"alertname": "X", "severity": "page"}, state="firing")
    Anomaly.objects.create(region=region, series_key="red.requests|service=a", minute=timezone.now(), value=1,
                           score=0.9, explanation={}, model_version=1)
    multiproc = celery_worker.multiproc_dir
    record_heartbeat.delay()
    base = start_web(DATABASE_URL=test_database_url, PROMETHEUS_MULTIPROC_DIR=str(multiproc))
    deadline = time.monotonic() + 30
    while True:
        text = requests.get(f"{base}/metrics", timeout=10).text
        if sample(text, "observatory_task_duration_seconds_count", task="observatory.ops.tasks.record_heartbeat",
                  outcome="success") >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sample(text, "observatory_task_duration_seconds_count", task="observatory.ops.tasks.record_heartbeat",
                  outcome="success") >= 1
    assert sample(text, "observatory_alerts", state="firing", severity="page") == 1
    assert sample(text, "observatory_active_anomalies", region="us-east-1") == 1
    assert sample(text, "observatory_queue_depth", queue="celery") >= 0
    if shutil.which("promtool"):  # the multiprocess merge and the DB gauges, in the format Prometheus reads
        _assert_promtool_accepts(text.encode())
