"""The SLO page draws the budget burn-down and the burn rate against the tier thresholds."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from observatory.regions.models import Region
from observatory.slos.models import Evaluation, SliMinute, Slo, SloStatus
from tests.personas import make_user

TIERS = [{"tier": "1h", "severity": "page", "threshold": 14.4, "long_burn": 20.0, "short_burn": 30.0, "firing": True,
          "inhibited": False, "downgraded": False}]


def test_slo_page_charts_burn_down_and_burn_rates(live_server, page, login, screenshot, transactional_db):
    region = Region.objects.create(name="us-east-1")
    slo = Slo.objects.create(name="checkout-availability", service="checkout", objective=0.99, kind="availability")
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for i in range(24):
        SliMinute.objects.create(slo=slo, region=region, minute=hour - timedelta(hours=23 - i), good=1000 - i,
                                 total=1000)
        Evaluation.objects.create(slo=slo, region=None, evaluated_at=now - timedelta(hours=23 - i), as_of=now,
                                  tiers=TIERS, burn_rates={"3600": float(i)}, budget_remaining=0.5, events=1e4)
    SloStatus.objects.create(slo=slo, region=None, evaluated_at=now, as_of=now, tiers=TIERS, page=True,
                             burn_rates={"3600": 20.0}, budget_remaining=0.25, events=24000)
    make_user("watcher", "viewer")
    login("watcher")
    page.goto(f"{live_server.url}/slos/")
    page.get_by_role("link", name="checkout-availability").click()
    expect(page.locator("#tiers tr[data-tier='1h']")).to_contain_text("firing")
    expect(page.locator("figure[data-chart=burn] canvas")).to_have_count(1)
    expect(page.locator("figure[data-chart=budget] canvas")).to_have_count(1)
    expect(page.locator("details.numbers")).not_to_have_attribute("open", "")
    print("screenshot:", screenshot("slo"))
