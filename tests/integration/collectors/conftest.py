import pytest

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token


@pytest.fixture
def region(transactional_db):
    return Region.objects.create(name="us-east-1", group="storefront")


@pytest.fixture
def other_region(transactional_db):
    return Region.objects.create(name="eu-west-1", group="storefront", role="standby")


@pytest.fixture
def token(region):
    return issue_token(region)
