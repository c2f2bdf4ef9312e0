"""An operator silences an alert from the alerts page: the builder previews what it matches,
and the alert leaves the active list."""

from playwright.sync_api import expect

from dashboards.models import AuditRecord
from observatory.alerting.models import Silence
from observatory.regions.models import Region
from tests.personas import firing_alert, make_user


def test_operator_silences_an_alert_and_it_leaves_the_active_list(live_server, page, login, screenshot,
                                                                   transactional_db):
    Region.objects.create(name="us-east-1")
    noisy = firing_alert({"alertname": "ReplicationLagOverRpo", "severity": "ticket", "source": "replication",
                          "region": "us-east-1", "peer": "eu-west-1"}, "us-east-1 lags 90s behind eu-west-1")
    other = firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "us-east-1"},
                         "Region us-east-1 is unhealthy")
    make_user("oncall", "operator")
    login("oncall")
    page.goto(f"{live_server.url}/alerts/?region=us-east-1")
    active = page.locator("#active-alerts")
    expect(active.locator("tr[data-fingerprint]")).to_have_count(2)

    active.locator(f"tr[data-fingerprint='{noisy.fingerprint}']").get_by_role("link", name="Silence…").click()
    builder = page.locator("#silence-builder")
    expect(builder.locator("textarea[name=matchers]")).to_have_value(
        'alertname="ReplicationLagOverRpo"\nregion="us-east-1"\npeer="eu-west-1"')
    builder.get_by_role("button", name="Preview").click()
    preview = page.locator("#silence-preview")
    expect(preview).to_contain_text("1 firing alert would be silenced")
    expect(preview.locator(f"li[data-fingerprint='{noisy.fingerprint}']")).to_have_count(1)
    builder.get_by_label("Comment (why)").fill("known replica rebuild, ticket OPS-12")
    builder.get_by_label("Duration").select_option("4h")
    print("screenshot:", screenshot("silence-builder"))
    builder.get_by_role("button", name="Create silence").click()

    expect(page.locator(".messages")).to_contain_text("created until")
    expect(active.locator(f"tr[data-fingerprint='{noisy.fingerprint}']")).to_have_count(0)
    expect(active.locator(f"tr[data-fingerprint='{other.fingerprint}']")).to_have_count(1)
    expect(page.locator(f"#silenced-alerts tr[data-fingerprint='{noisy.fingerprint}']")).to_contain_text("silenced by")
    print("screenshot:", screenshot("silenced"))
    silence = Silence.objects.get()
    assert silence.created_by == "oncall" and silence.comment == "known replica rebuild, ticket OPS-12"
    assert AuditRecord.objects.filter(actor="oncall", action="create_silence").count() == 1
