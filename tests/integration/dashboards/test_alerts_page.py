"""The alerts page: filters, the silence builder's preview and errors, and expiring a silence."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboards.models import AuditRecord
from observatory.alerting import silences
from observatory.alerting.models import Silence
from tests.personas import firing_alert, make_user


@pytest.fixture
def alerts(db):
    return {
        "page": firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "us-east-1"}, "us down"),
        "ticket": firing_alert({"alertname": "Anomaly", "severity": "ticket", "region": "eu-west-1",
                                "service": "checkout"}, "checkout odd"),
    }


def test_filters_by_severity_service_and_state(client, alerts):
    client.force_login(make_user("v", "viewer"))
    assert "us down" not in client.get("/alerts/?severity=ticket").content.decode()
    page = client.get("/alerts/?service=checkout").content.decode()
    assert "checkout odd" in page and "us down" not in page
    assert "No" in client.get("/alerts/?state=pending").content.decode().split('id="active-alerts"')[1][:400]
    assert '<option selected>checkout</option>' in page  # the filter keeps its value


def test_preview_shows_what_a_silence_would_match_and_reports_bad_matchers(client, alerts):
    client.force_login(make_user("op", "operator"))
    preview = client.get("/alerts/silences/preview", {"matchers": 'severity=~"page|ticket"\nregion!="eu-west-1"'})
    assert "1</strong> firing alert would be silenced" in preview.content.decode()
    assert alerts["page"].fingerprint in preview.content.decode()
    bad = client.get("/alerts/silences/preview", {"matchers": "region"}).content.decode()
    assert 'class="error"' in bad and "line 1" in bad
    response = client.post("/alerts/silences/", {"matchers": 'region="us-east-1"', "comment": "", "duration": "1h"},
                           follow=True)
    assert "Silence not created: comment" in response.content.decode() and not Silence.objects.exists()


def test_operator_expires_a_silence(client, alerts):
    silence = silences.create_silence(['region="us-east-1"'], "maintenance", "op", timezone.now() + timedelta(hours=1))
    client.force_login(make_user("op", "operator"))
    assert "us down" not in client.get("/alerts/").content.decode().split('id="silenced-alerts"')[0]
    client.post(f"/alerts/silences/{silence.id}/expire")
    silence.refresh_from_db()
    assert silence.ends_at <= timezone.now() and silence.expired_by == "op"
    assert "us down" in client.get("/alerts/").content.decode().split('id="silenced-alerts"')[0]
    assert AuditRecord.objects.filter(action="expire_silence", actor="op").exists()
