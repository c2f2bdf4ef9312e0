"""The region page charts a service with uPlot and marks its anomalies on the chart."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from observatory.detection.models import Anomaly
from observatory.regions.models import Region
from tests.personas import make_user, span_minutes


def test_anomaly_marker_appears_on_the_region_chart(live_server, page, login, screenshot, transactional_db):
    region = Region.objects.create(name="us-east-1", group="storefront", rpo_seconds=30)
    span_minutes(region, "checkout", minutes=40)
    span_minutes(region, "search", minutes=40, requests=100, errors=0)
    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    Anomaly.objects.create(region=region, series_key="red.error_ratio|service=checkout", service="checkout",
                           minute=minute, value=0.2, score=0.91, model_version=1,
                           explanation={"summary": "error ratio 20x its usual level"})
    make_user("watcher", "viewer")
    login("watcher")

    page.goto(f"{live_server.url}/")
    page.locator("#tile-us-east-1").click()
    expect(page.locator("#charts h2")).to_contain_text("checkout")  # the busiest service by default
    marker = page.locator("figure[data-chart=errors] .anomaly-marker")
    expect(marker).to_have_count(1)
    expect(marker).to_be_visible()
    expect(marker).to_have_attribute("title", "red.error_ratio 0.2 at " + f"{minute:%H:%M}"
                                     + " (score 0.91) error ratio 20x its usual level")
    expect(page.locator("figure[data-chart=rate] .anomaly-marker")).to_have_count(0)
    expect(page.locator("figure.chart canvas")).to_have_count(3)
    # The numbers behind the charts stay on the page, folded away once the charts are drawn.
    expect(page.locator("details.numbers")).not_to_have_attribute("open", "")
    expect(page.locator("#chart-numbers tr.anomaly-row")).to_have_count(1)
    print("screenshot:", screenshot("region-anomaly"))

    # Live refresh: a new anomaly shows up on the charts without a reload.
    Anomaly.objects.create(region=region, series_key="red.requests|service=checkout", service="checkout",
                           minute=minute + timedelta(minutes=5), value=900, score=0.7, model_version=1,
                           explanation={"summary": "traffic spike"})
    expect(page.locator("figure[data-chart=rate] .anomaly-marker")).to_have_count(1, timeout=20_000)
    expect(marker).to_have_count(1)

    # The marker links to the chart path alerts use, centred on the anomalous minute.
    marker.click()
    expect(page).to_have_url(f"{live_server.url}/regions/us-east-1/?series=red.error_ratio%7Cservice%3Dcheckout"
                             f"&at={minute:%Y-%m-%dT%H:%M}Z")
    expect(page.locator("figure[data-chart=errors] .anomaly-marker")).to_have_count(1)


def test_region_page_without_javascript_shows_the_numbers(live_server, browser, transactional_db, screenshot):
    region = Region.objects.create(name="eu-west-1", group="storefront")
    span_minutes(region, "checkout", minutes=5)
    make_user("watcher", "viewer")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("User name").fill("watcher")
    page.get_by_label("Password").fill("a-long-test-password-42")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/regions/eu-west-1/")
    expect(page.locator("#chart-numbers tbody tr")).to_have_count(5)
    expect(page.locator("#services tr[data-service=checkout]")).to_contain_text("10")  # 600 per minute = 10/s
    context.close()
