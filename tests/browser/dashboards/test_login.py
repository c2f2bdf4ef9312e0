import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from observatory.regions.models import Region

PASSWORD = "a-long-test-password-42"


@pytest.fixture
def operator(transactional_db):
    return get_user_model().objects.create_user("oncall", password=PASSWORD)


def test_login_then_home_page_lists_regions(live_server, page, operator, screenshot):
    Region.objects.create(name="us-east-1", group="storefront", rpo_seconds=30)
    Region.objects.create(name="eu-west-1", group="storefront", role="standby")

    page.goto(live_server.url + "/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    page.get_by_label("User name").fill("oncall")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Regions")).to_be_visible()
    expect(page.locator("tr[data-region=us-east-1]")).to_contain_text("30 s")
    expect(page.locator("tr[data-region=eu-west-1]")).to_contain_text("standby")
    expect(page.locator(".who")).to_have_text("oncall")
    # The stylesheet is served (hashed name, via WhiteNoise) and applied.
    expect(page.locator("header.topbar")).to_have_css("display", "flex")
    screenshot("home")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server.url}/login/")


def test_wrong_password_is_refused(live_server, page, operator, screenshot):
    page.goto(live_server.url + "/login/")
    page.get_by_label("User name").fill("oncall")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error")).to_contain_text("Please enter a correct username and password")
    screenshot("refused")
    expect(page).to_have_url(f"{live_server.url}/login/")
