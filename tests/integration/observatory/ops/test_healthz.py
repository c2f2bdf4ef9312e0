import pytest
import requests


@pytest.mark.django_db
def test_healthz_ok_when_database_and_broker_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert body["checks"]["scheduler"] == {"last_beat_at": None}


@pytest.mark.django_db
def test_healthz_reports_heartbeat_age(client):
    from django.utils import timezone

    from observatory.ops.models import Heartbeat

    Heartbeat.objects.create(name="beat", beat_at=timezone.now() - timezone.timedelta(seconds=42))
    scheduler = client.get("/healthz").json()["checks"]["scheduler"]
    assert 41 <= scheduler["age_seconds"] < 60


def test_healthz_503_when_database_unreachable(start_web):
    base = start_web(DATABASE_URL="postgres://postgres@127.0.0.1:1/observatory")
    response = requests.get(f"{base}/healthz", timeout=20)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["error"]
    assert body["checks"]["broker"]["ok"] is True


def test_healthz_503_when_broker_unreachable(start_web, test_database_url):
    base = start_web(DATABASE_URL=test_database_url, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    response = requests.get(f"{base}/healthz", timeout=20)
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is False


def test_healthz_rejects_post(client):
    assert client.post("/healthz").status_code == 405
