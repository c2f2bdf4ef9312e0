"""Watched series from real OTLP ingest, through rollups, scored by the shard jobs."""

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from observatory.alerting import sources
from observatory.detection import jobs
from observatory.detection.models import Anomaly, DetectorShard, WatchedMetric
from observatory.regions.models import Region
from observatory.regions.tokens import issue_token
from observatory.telemetry.rollups import roll_up_pending

REGIONS = ("us-east-1", "eu-west-1", "ap-south-1")
MINUTES = 240
SPIKE = 3  # minutes before the last one


def ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 10**9


def orders_request(points: dict[str, list[tuple[datetime, float]]]) -> ExportMetricsServiceRequest:
    """Gauges named by ``points``' keys, from service shop."""
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.append(KeyValue(key="service.name"))
    resource_metrics.resource.attributes[0].value.string_value = "shop"
    scope = resource_metrics.scope_metrics.add()
    for name, series in points.items():
        metric = scope.metrics.add(name=name)
        for at, value in series:
            metric.gauge.data_points.add(time_unix_nano=ns(at + timedelta(seconds=20)), as_double=value)
    return request


class World:
    """Three regions pushing shop.orders and shop.payments for MINUTES minutes. A spike SPIKE minutes
    before the end hits shop.orders in us-east-1 only, and shop.payments in every region at once."""

    def __init__(self, client):
        self.client = client
        last = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=3)
        self.minutes = [last - timedelta(minutes=MINUTES - 1 - m) for m in range(MINUTES)]
        rng = np.random.default_rng(7)
        self.values = {}
        for name in REGIONS:
            orders = 100 + rng.normal(0, 3, MINUTES)
            payments = 50 + rng.normal(0, 2, MINUTES)
            payments[-1 - SPIKE] += 60
            if name == "us-east-1":
                orders[-1 - SPIKE] += 60
            self.values[name] = (orders, payments)
        self.tokens = {name: issue_token(Region.objects.create(name=name)) for name in REGIONS}

    def push(self, first: int = 0, end: int = MINUTES) -> None:
        """Send minutes [first, end) from every region, and roll them up."""
        span = self.minutes[first:end]
        for name, (orders, payments) in self.values.items():
            body = orders_request({"shop.orders": list(zip(span, orders[first:end])),
                                   "shop.payments": list(zip(span, payments[first:end]))}).SerializeToString()
            response = self.client.post("/v1/metrics", body, content_type="application/x-protobuf",
                                        HTTP_AUTHORIZATION=f"Bearer {self.tokens[name]}")
            assert response.status_code == 200, response.content
        while roll_up_pending():
            pass


@pytest.fixture
def pusher(transactional_db, client, settings):
    settings.ANOMALY_SHARDS = 2
    jobs._cache.clear()
    WatchedMetric.objects.bulk_create([WatchedMetric(name="shop.orders"), WatchedMetric(name="shop.payments")])
    return World(client)


@pytest.fixture
def world(pusher):
    pusher.push()
    return pusher.minutes


def test_history_that_lands_after_a_run_is_still_scored(pusher, settings):
    """A back-fill (e.g. the simulator's) that arrives while the jobs already run loses no minute."""
    minutes = pusher.minutes
    now = settled(minutes[-1], settings)
    assert run_jobs(now) == 0
    assert not DetectorShard.objects.filter(through_minute__isnull=False).exists()  # nothing watched yet
    pusher.push(0, 120)
    run_jobs(now)
    assert {s.through_minute for s in DetectorShard.objects.filter(series_count__gt=0)} == {minutes[119]}
    pusher.push(120, MINUTES - 60)
    run_jobs(now)
    run_jobs(now, fit=True)
    assert {s.model_version for s in DetectorShard.objects.filter(series_count__gt=0)} == {3}
    pusher.push(MINUTES - 60)
    assert run_jobs(now) == 1
    assert {s.series_count for s in DetectorShard.objects.filter(series_count__gt=0)} == {3}


def run_jobs(now: datetime, fit: bool = False) -> int:
    found = 0
    for shard in range(2):
        if fit:
            jobs.fit_shard(shard, now=now)
        found += jobs.score_shard(shard, now=now)
    return found


def settled(minute: datetime, settings) -> datetime:
    """The time at which ``minute`` is the last one to be scored."""
    return minute + timedelta(seconds=settings.ANOMALY_SETTLE_SECONDS, milliseconds=1)


def test_spike_in_one_region_is_an_anomaly_and_the_same_spike_everywhere_is_not(world, settings, client,
                                                                                  django_user_model):
    minutes = world
    # History up to 60 minutes before the end, then the first fit, then the rest.
    assert run_jobs(settled(minutes[-61], settings)) == 0  # nothing is fitted yet: no scores to speak of
    assert run_jobs(settled(minutes[-1], settings), fit=True) == 1
    [anomaly] = Anomaly.objects.select_related("region")
    assert (anomaly.region.name, anomaly.series_key, anomaly.minute) == ("us-east-1", "shop.orders",
                                                                         minutes[-1 - SPIKE])
    assert anomaly.score >= 0.5 and anomaly.service == "shop" and anomaly.model_version == 1
    explanation = anomaly.explanation
    assert explanation["drivers"][0] in ("value", "peer_deviation")
    assert explanation["peers"]["n_peers"] == 2 and explanation["peers"]["regional_share"] > 0.8
    assert abs(explanation["peers"]["deviation"] - 60) < 15
    assert "vs median of 2 peers" in explanation["summary"]

    shards = DetectorShard.objects.filter(series_count__gt=0)
    assert sum(s.series_count for s in shards) == 6  # 2 metrics x 3 regions
    assert all(s.through_minute == minutes[-1] and s.model_version == 3 * (s.series_count // 3) for s in shards)

    # It raises an Anomaly alert that links to the region's chart.
    [condition] = [c for c in sources.collect(datetime.now(timezone.utc)) if c.labels["alertname"] == "Anomaly"]
    assert condition.labels == {"alertname": "Anomaly", "severity": "ticket", "source": "anomaly",
                                "region": "us-east-1", "series": "shop.orders", "service": "shop"}
    assert "/regions/us-east-1/?series=shop.orders&at=" in condition.annotations["link"]

    # And the API lists it.
    client.force_login(django_user_model.objects.create_user("viewer"))
    [listed] = client.get("/api/v1/anomalies", {"region": "us-east-1"}).json()
    assert listed["series"] == "shop.orders" and listed["explanation"]["peers"]["n_peers"] == 2


def test_state_survives_a_new_process_and_reruns_change_nothing(world, settings):
    minutes = world
    run_jobs(settled(minutes[-61], settings))
    versions = dict(DetectorShard.objects.values_list("shard", "version"))
    # Same time again: nothing new to score, nothing written.
    assert run_jobs(settled(minutes[-61], settings)) == 0
    assert dict(DetectorShard.objects.values_list("shard", "version")) == versions
    assert not DetectorShard.objects.filter(state__isnull=False).exists()  # scoring writes no checkpoint
    # As if other worker processes picked the shards up: no checkpoint yet, so the state is
    # rebuilt from history; then the fit job checkpoints it.
    jobs._cache.clear()
    assert sum(jobs.fit_shard(shard, now=settled(minutes[-61], settings)) for shard in range(2)) == 6
    assert all(s.checkpoint_minute == minutes[-61] for s in DetectorShard.objects.filter(series_count__gt=0))
    run_jobs(settled(minutes[-30], settings))
    jobs._cache.clear()  # now from the checkpoint plus a replay of the 31 minutes scored since
    assert run_jobs(settled(minutes[-1], settings)) == 1
    assert Anomaly.objects.get().series_key == "shop.orders"


def test_restored_state_equals_the_state_kept_in_memory(world, settings):
    from observatory.analytics.anomaly import snapshot

    minutes = world
    run_jobs(settled(minutes[-61], settings))
    run_jobs(settled(minutes[-10], settings), fit=True)  # refits and checkpoints at minute -61
    assert {s.checkpoint_minute for s in DetectorShard.objects.filter(series_count__gt=0)} == {minutes[-61]}
    kept = {shard: snapshot.dump(bank, [f"{r}|{k}" for r, k in index])
            for shard, (_, bank, index) in jobs._cache.items()}
    jobs._cache.clear()
    for row in DetectorShard.objects.filter(series_count__gt=0):
        bank, index = jobs._restore(row)
        restored = snapshot.load(snapshot.dump(bank, [f"{r}|{k}" for r, k in index]))[0]
        original = snapshot.load(kept[row.shard])[0]
        for name, array in vars(original).items():
            if isinstance(array, np.ndarray):
                np.testing.assert_array_equal(getattr(restored, name), array, err_msg=name)


def test_a_leased_shard_is_left_alone(world, settings):
    now = settled(world[-1], settings)
    DetectorShard.objects.create(shard=0, lease_owner="someone", lease_until=now + timedelta(minutes=1))
    assert jobs.score_shard(0, now=now) == 0
    assert jobs.fit_shard(0, now=now) is None  # busy: the task retries it shortly
    assert DetectorShard.objects.get(shard=0).through_minute is None
    jobs.score_shard(0, now=now + timedelta(minutes=2))  # the lease ran out: taken over
    assert DetectorShard.objects.get(shard=0).through_minute is not None


def test_detection_fans_out_through_a_real_worker(world, celery_worker, settings):
    from observatory.detection.tasks import run_detection

    def scored():  # the worker runs with its own (default) number of shards
        return sum(DetectorShard.objects.filter(through_minute__isnull=False).values_list("series_count", flat=True))

    run_detection.delay()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and scored() < 6:
        time.sleep(0.2)
    assert scored() == 6  # 2 metrics x 3 regions, over the worker's shards
    assert DetectorShard.objects.count() == 4  # every shard was visited: the fan-out reached them all

    # A fit that finds its shard busy is retried rather than skipped until the next fit run.
    from django.utils import timezone as dj_timezone

    from observatory.detection.tasks import fit_models

    busy = DetectorShard.objects.filter(series_count__gt=0).values_list("shard", flat=True).first()
    DetectorShard.objects.filter(shard=busy).update(lease_owner="scorer", lease_until=dj_timezone.now()
                                                 + timedelta(seconds=3))
    fit_models.delay()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and DetectorShard.objects.filter(series_count__gt=0, model_version=0).exists():
        time.sleep(0.5)
    assert not DetectorShard.objects.filter(series_count__gt=0, model_version=0).exists()
