"""An outage turns a region's tile red (live, by htmx polling), and the failover console shows
the pending decision with its gates; an operator approves it, a viewer cannot."""

from playwright.sync_api import expect

from dashboards.models import AuditRecord
from observatory.failover.models import Decision
from tests.personas import make_user

RED = "rgb(208, 59, 47)"


def test_outage_turns_the_tile_red_and_an_operator_approves(live_server, page, world, login, screenshot):
    make_user("oncall", "operator")
    world.probe_round(4)
    login("oncall")
    tile = page.locator("#tile-us-east-1")
    expect(tile).to_have_attribute("data-state", "healthy")

    world.outage()
    world.probe_round(3)
    # No reload: the overview polls with htmx and the tile turns red by itself.
    expect(tile).to_have_attribute("data-state", "unhealthy", timeout=20_000)
    expect(tile).to_have_css("border-top-color", RED)
    expect(tile).to_contain_text("evidence:")
    expect(page.locator("#timeline")).to_contain_text("failover us-east-1 → eu-west-1: awaiting_approval")
    print("screenshot:", screenshot("overview-red"))

    page.locator("header nav").get_by_role("link", name="Failover").click()
    card = page.locator("#pending article.decision")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("storefront: us-east-1 → eu-west-1")
    expect(card.locator("tr[data-gate=source_unhealthy] td").nth(1)).to_have_text("pass")
    expect(card.locator("tr[data-gate=mode]")).to_contain_text("group storefront is in approve mode")
    print("screenshot:", screenshot("console-pending"))

    card.get_by_label("Approval reason").fill("us-east-1 is down, approving")
    page.wait_for_timeout(12_000)  # a poll comes and goes: what the operator typed stays
    expect(card.get_by_label("Approval reason")).to_have_value("us-east-1 is down, approving")
    card.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text("approve done")
    expect(page.locator("#pending article.decision")).to_have_attribute("data-state", "dispatched")
    print("screenshot:", screenshot("console-approved"))
    decision = Decision.objects.get()
    assert decision.state == "dispatched" and decision.approvals[0]["by"] == "oncall"
    assert AuditRecord.objects.filter(actor="oncall", action="approve", allowed=True).count() == 1


def test_viewer_cannot_approve(live_server, page, world, login, screenshot):
    make_user("watcher", "viewer")
    world.probe_round(4)
    world.outage()
    world.probe_round(3)
    decision = Decision.objects.get(state="awaiting_approval")
    login("watcher")
    page.goto(live_server.url + "/failover/")
    card = page.locator("#pending article.decision")
    expect(card).to_contain_text("awaiting_approval")
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Abort")).to_have_count(0)
    print("screenshot:", screenshot("viewer-console"))

    # A forged POST with a valid session and CSRF token is still refused: the role is checked server-side.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(f"{live_server.url}/failover/{decision.id}/approve",
                                 form={"reason": "forged", "csrfmiddlewaretoken": csrf},
                                 headers={"X-CSRFToken": csrf, "Referer": live_server.url + "/failover/"})
    assert response.status == 403
    decision.refresh_from_db()
    assert decision.state == "awaiting_approval" and decision.approvals == []
    assert AuditRecord.objects.filter(actor="watcher", action="approve", allowed=False).count() == 1
