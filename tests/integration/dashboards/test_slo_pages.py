"""SLO pages: the budget burned down over the window and burn rates against the tier thresholds,
globally and per region."""

from datetime import timedelta

import pytest
from django.utils import timezone

from observatory.regions.models import Region
from observatory.slos.models import Evaluation, SliMinute, Slo, SloStatus
from tests.personas import make_user

TIERS = [{"tier": "1h", "severity": "page", "threshold": 14.4, "long_burn": 20.0, "short_burn": 30.0, "firing": True,
          "inhibited": False, "downgraded": False},
         {"tier": "6h", "severity": "page", "threshold": 6.0, "long_burn": 4.0, "short_burn": 9.0, "firing": False,
          "inhibited": False, "downgraded": False}]


@pytest.fixture
def slo(db):
    use1 = Region.objects.create(name="us-east-1")
    euw1 = Region.objects.create(name="eu-west-1")
    slo = Slo.objects.create(name="checkout-availability", service="checkout", objective=0.99, kind="availability",
                             window_days=30)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    # Two hours of 1,000 events per region: 5 bad, then 10 bad in us-east-1.
    for region, bad in ((use1, (5, 10)), (euw1, (0, 0))):
        for i, b in enumerate(bad):
            SliMinute.objects.create(slo=slo, region=region, minute=hour - timedelta(hours=1 - i), good=1000 - b,
                                     total=1000)
    now = timezone.now()
    for region in (use1, None):
        SloStatus.objects.create(slo=slo, region=region, evaluated_at=now, as_of=now, tiers=TIERS, page=True,
                                 burn_rates={"3600": 20.0, "300": 30.0}, budget_remaining=0.25, events=2000)
        Evaluation.objects.create(slo=slo, region=region, evaluated_at=now - timedelta(minutes=5), as_of=now,
                                  tiers=TIERS, burn_rates={"3600": 18.0}, budget_remaining=0.3, events=1900)
    return slo


def test_slo_list_links_to_each_scope(client, slo):
    client.force_login(make_user("v", "viewer"))
    page = client.get("/slos/").content.decode()
    assert 'href="/slos/checkout-availability/"' in page and "25.00 %" in page
    assert 'href="/slos/checkout-availability/?region=us-east-1"' in page


def test_region_slo_page_burns_the_budget_down_and_shows_tiers(client, slo):
    client.force_login(make_user("v", "viewer"))
    page = client.get("/slos/checkout-availability/?region=us-east-1").content.decode()
    # Budget: 1 % of the events so far; 5 of 1,000 bad leaves half, 15 of 2,000 a quarter.
    assert "<td>50.00 %</td>" in page and "<td>25.00 %</td>" in page
    tier = page[page.index('data-tier="1h"'):page.index('data-tier="6h"')]
    assert "20x" in tier and "14.4x" in tier and "firing" in tier
    assert '"thresholds": {"burn": [{"value": 14.4' in page and '"burn": [18.0]' in page


def test_global_slo_sums_regions_and_limited_viewers_cannot_pick_other_regions(client, slo):
    client.force_login(make_user("eu", "viewer", regions=("eu-west-1",)))
    page = client.get("/slos/checkout-availability/").content.decode()
    assert "global" in page and "<td>75.00 %</td>" in page  # 5 of 2,000 bad, then 15 of 4,000 bad
    assert client.get("/slos/checkout-availability/?region=us-east-1").status_code == 403
