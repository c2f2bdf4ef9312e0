import re
import numpy as np
import pytest

from observatory.simulator.world import Incident, World, parse_incident

REGIONS = ("us-east-1", "eu-west-1", "ap-south-1")


def test_incidents_parse_with_defaults_and_global_has_no_region():
    assert parse_incident("outage:eu-west-1@120+60", REGIONS) == Incident("outage", "eu-west-1", 120.0, 60.0)
    assert parse_incident("latency:us-east-1@5", REGIONS) == Incident("latency", "us-east-1", 5.0, 300.0)
    assert parse_incident("global@30+10", REGIONS) == Incident("global", None, 30.0, 10.0)


@pytest.mark.parametrize("text, message", [
    ("outage", "expected KIND:REGION@SECONDS[+DURATION]"),
    ("quake:us-east-1@5", "unknown kind 'quake'"),
    ("outage@5", "outage needs a region"),
    ("outage:mars-1@5", "region 'mars-1' is not simulated"),
    ("global:us-east-1@5", "a global incident takes no region"),
    ("lag:eu-west-1@5+0", "duration must be positive"),
])
def test_bad_incidents_are_named(text, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        parse_incident(text, REGIONS)
    assert repr(text) in str(error.value)


def world(*incidents: str) -> World:
    return World(REGIONS, ("checkout", "catalog"), rate=10.0,
                 incidents=tuple(parse_incident(i, REGIONS) for i in incidents))


def test_outage_stops_traffic_fails_the_probe_and_partitions_the_peers():
    w = world("outage:us-east-1@100+50")
    rng = np.random.default_rng(0)
    assert w.up("us-east-1", 99) and not w.up("us-east-1", 100) and w.up("us-east-1", 150)
    assert len(w.requests("us-east-1", "checkout", 110, 140, rng)[0]) == 0
    assert len(w.requests("eu-west-1", "checkout", 110, 140, rng)[0]) > 100
    assert w.partitioned("eu-west-1", "us-east-1", 120) and not w.partitioned("eu-west-1", "ap-south-1", 120)
    assert not w.partitioned("eu-west-1", "us-east-1", 160)


def test_latency_and_error_incidents_hit_only_their_region_and_global_hits_all():
    w = world("latency:eu-west-1@0+100", "errors:ap-south-1@0+100", "global@200+100")
    rng = np.random.default_rng(1)

    def stats(region, t):
        _, durations, failed, _ = w.requests(region, "checkout", t, t + 600, rng)
        return np.median(durations), failed.mean()

    quiet_latency, quiet_errors = stats("us-east-1", 0)
    assert quiet_errors < 0.02 and 25 < quiet_latency < 60
    assert stats("eu-west-1", 0)[0] > 4 * quiet_latency
    assert stats("ap-south-1", 0)[1] > 0.25
    for region in REGIONS:
        latency, errors = stats(region, 200)
        assert latency > 2 * quiet_latency and errors > 0.05


def test_lag_grows_during_a_lag_incident_and_shifted_moves_incidents():
    w = world("lag:eu-west-1@100+300")
    rng = np.random.default_rng(2)
    assert w.lag_seconds("eu-west-1", 50, rng) < 3.5
    assert w.lag_seconds("eu-west-1", 200, rng) >= 200
    moved = w.shifted(1000)
    assert moved.lag_seconds("eu-west-1", 200, rng) < 3.5 and moved.lag_seconds("eu-west-1", 1200, rng) >= 200
