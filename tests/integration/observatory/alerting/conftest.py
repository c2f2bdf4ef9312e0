from datetime import datetime, timedelta, timezone

import pytest

from observatory.alerting.sources import Condition
from observatory.delivery.models import Endpoint

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def condition(alertname="HighErrorRate", region="us-east-1", severity="page", for_seconds=0, keep=0, **labels):
    return Condition({"alertname": alertname, "region": region, "severity": severity, "source": "test", **labels},
                     {"summary": f"{alertname} in {region}"}, for_seconds, keep)


@pytest.fixture
def oncall(transactional_db, webhook_receiver):
    return Endpoint.objects.create(name="oncall", url=webhook_receiver.url, secret=webhook_receiver.secret,
                                   events=["alert.*"], format="alertmanager")


from tests.integration.observatory.failover.conftest import operator, sites, world  # noqa: E402,F401  (fixtures)
