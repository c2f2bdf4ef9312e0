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
