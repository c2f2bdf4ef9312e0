"""Personas: who sees what, who may act, and that every attempt is audited."""

import pytest

from dashboards import access
from dashboards.models import AuditRecord
from observatory.alerting.models import Alert, Silence
from observatory.regions.models import Region
from tests.personas import firing_alert, make_user


@pytest.fixture
def regions(db):
    return [Region.objects.create(name=n, group="storefront", role=r)
            for n, r in (("us-east-1", "primary"), ("eu-west-1", "standby"))]


def test_migration_creates_the_persona_groups(db):
    assert access.role(make_user("v", "viewer")) == access.VIEWER
    assert access.role(make_user("o", "operator")) == access.OPERATOR
    assert access.role(make_user("a", "admin")) == access.ADMIN
    assert access.role(make_user("nobody")) == access.VIEWER  # any signed-in user may look


def test_pages_need_a_login(client, regions):
    for url in ("/", "/regions/us-east-1/", "/alerts/", "/failover/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_viewer_limited_to_a_region_sees_only_it(client, regions):
    client.force_login(make_user("eu-only", "viewer", regions=("eu-west-1",)))
    home = client.get("/").content.decode()
    assert 'id="tile-eu-west-1"' in home and 'id="tile-us-east-1"' not in home
    assert client.get("/regions/eu-west-1/").status_code == 200
    assert client.get("/regions/us-east-1/").status_code == 403
    firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "us-east-1"}, "us down")
    firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "eu-west-1"}, "eu down")
    alerts = client.get("/alerts/").content.decode()
    assert "eu down" in alerts and "us down" not in alerts


def test_viewer_sees_no_action_buttons_and_a_forged_post_is_refused(client, regions):
    alert = firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "us-east-1"})
    client.force_login(make_user("viewer", "viewer"))
    page = client.get("/alerts/").content.decode()
    assert "Acknowledge" not in page and "New silence" not in page
    assert client.post(f"/alerts/{alert.fingerprint}/acknowledge").status_code == 403
    assert client.post("/alerts/silences/", {"matchers": 'region="us-east-1"', "comment": "x",
                                             "duration": "1h"}).status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_by == "" and not Silence.objects.exists()
    refused = list(AuditRecord.objects.order_by("at").values_list("actor", "action", "allowed"))
    assert refused == [("viewer", "acknowledge", False), ("viewer", "create_silence", False)]


def test_mutations_are_post_only_and_need_csrf(regions):
    from django.test import Client

    alert = firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "us-east-1"})
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("op", "operator"))
    assert client.get(f"/alerts/{alert.fingerprint}/acknowledge").status_code == 405
    assert client.post(f"/alerts/{alert.fingerprint}/acknowledge").status_code == 403  # no CSRF token
    assert Alert.objects.get(id=alert.id).acknowledged_by == ""


def test_operator_acknowledges_and_it_is_audited(client, regions):
    alert = firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "us-east-1"})
    client.force_login(make_user("op", "operator"))
    assert "Acknowledge" in client.get("/alerts/").content.decode()
    response = client.post(f"/alerts/{alert.fingerprint}/acknowledge", {"next": "/alerts/"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == "op"
    record = AuditRecord.objects.get()
    assert (record.actor, record.action, record.subject, record.allowed) == (
        "op", "acknowledge", f"alert {alert.fingerprint}", True)


def test_operator_limited_to_a_region_cannot_act_elsewhere(client, regions):
    alert = firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "us-east-1"})
    client.force_login(make_user("eu-op", "operator", regions=("eu-west-1",)))
    assert client.post(f"/alerts/{alert.fingerprint}/acknowledge").status_code == 403
    assert AuditRecord.objects.get().allowed is False


def test_admin_manages_region_access_and_reads_the_audit(client, regions):
    admin = make_user("boss", "admin")
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    assert client.get("/admin/dashboards/regionaccess/add/").status_code == 200
    assert client.get("/admin/dashboards/auditrecord/").status_code == 200
    assert client.get("/admin/dashboards/auditrecord/add/").status_code == 403


def test_next_after_an_action_stays_on_this_site(client, regions):
    alert = firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "us-east-1"})
    client.force_login(make_user("op", "operator"))
    response = client.post(f"/alerts/{alert.fingerprint}/acknowledge", {"next": "https://evil.example/"})
    assert response["Location"] == "/alerts/"
