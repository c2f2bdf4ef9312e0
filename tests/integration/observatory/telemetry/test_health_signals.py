from datetime import datetime, timedelta, timezone

import pytest

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token
from observatory.telemetry.models import RegionSignal, SignalMapping
from tests.integration.observatory.telemetry.test_rollups import gauge_request, kv, ns, post

NOW = datetime.now(timezone.utc) - timedelta(seconds=30)


@pytest.fixture
def token(transactional_db):
    return issue_token(Region.objects.create(name="us-east-1"))


def signals():
    return {(s.signal, s.key): s.value for s in RegionSignal.objects.all()}


def test_known_signals_keep_the_latest_value_per_key(client, token):
    post(client, token, "/v1/metrics", gauge_request([(NOW, 40), (NOW - timedelta(seconds=20), 10)]))
    assert signals() == {("observatory.queue.backlog", "orders"): 40}
    # An older report arriving late does not overwrite a newer one.
    post(client, token, "/v1/metrics", gauge_request([(NOW - timedelta(seconds=10), 25)]))
    assert signals() == {("observatory.queue.backlog", "orders"): 40}
    post(client, token, "/v1/metrics", gauge_request([(NOW + timedelta(seconds=5), 0)]))
    assert signals() == {("observatory.queue.backlog", "orders"): 0}


def test_mapped_metric_counts_as_a_signal_with_scale_and_key(client, token):
    SignalMapping.objects.create(metric_name="pg_replication_lag_ms", signal=SignalMapping.Signal.REPLICATION_LAG,
                                 key_attribute="upstream", scale=0.001)
    request = gauge_request([(NOW, 2500)], name="pg_replication_lag_ms")
    point = request.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0]
    point.attributes.append(kv("upstream", "eu-west-1"))
    post(client, token, "/v1/metrics", request)
    assert signals() == {("observatory.replication.lag", "eu-west-1"): 2.5}


def test_last_seen_moves_on_every_accepted_payload(client, token):
    region = Region.objects.get(name="us-east-1")
    assert region.last_seen_at is None
    post(client, token, "/v1/metrics", gauge_request([(NOW, 1)], name="anything.else"))
    region.refresh_from_db()
    assert region.last_seen_at is not None
    assert abs((region.last_seen_at - datetime.now(timezone.utc)).total_seconds()) < 10
    assert ns(NOW) > 0
