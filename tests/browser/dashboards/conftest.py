import pytest
from playwright.sync_api import expect

from tests.integration.observatory.failover.conftest import RegionSites, World
from tests.personas import PASSWORD


@pytest.fixture
def sites():
    sites = RegionSites()
    yield sites
    sites.close()


@pytest.fixture
def world(transactional_db, sites, webhook_receiver):
    """Three probed regions of group storefront in approve mode (tests/integration/.../failover)."""
    return World(sites, webhook_receiver, mode="approve")


@pytest.fixture
def login(page, live_server):
    def log_in(name: str) -> None:
        page.goto(live_server.url + "/login/")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".who")).to_have_text(name)

    return log_in
