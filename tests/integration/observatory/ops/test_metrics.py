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


@pytest.mark.django_db
def test_promtool_accepts_the_exposition(client, tmp_path):
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    client.get("/healthz")
    text = client.get("/metrics").content
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
