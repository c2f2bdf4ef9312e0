import pytest

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token


@pytest.fixture(autouse=True)
def _fresh_ingest_caches():
    """Token, series and limiter caches are per process; tests must not see each other's."""
    from collectors import auth, views
    from observatory.telemetry import health_signals, ingest

    auth.clear_cache()
    views._limiters.clear()
    views._fingerprints.clear()
    ingest._known_series.clear()
    ingest._last_seen_written.clear()
    health_signals.reset_cache()
    yield


@pytest.fixture
def region(transactional_db):
    return Region.objects.create(name="us-east-1", group="storefront")


@pytest.fixture
def other_region(transactional_db):
    return Region.objects.create(name="eu-west-1", group="storefront", role="standby")


@pytest.fixture
def token(region):
    return issue_token(region)
