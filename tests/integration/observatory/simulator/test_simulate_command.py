"""manage.py simulate against a live server: real SDK exporters, history back-fill, an outage."""

import subprocess
import sys

from observatory.detection.models import WatchedMetric
from observatory.regions.models import Region
from observatory.slos.models import Slo
from observatory.telemetry.models import RegionSignal, SeriesMinute, SpanMinute
from observatory.telemetry.rollups import roll_up_pending
from tests.conftest import ROOT, child_env


def test_simulate_backfills_history_and_an_outage_silences_the_region(transactional_db, start_web,
                                                                      test_database_url):
    url = start_web(DATABASE_URL=test_database_url)
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "simulate", "--url", url, "--setup", "--regions", "a-1,b-1,c-1",
         "--services", "checkout,catalog", "--rate", "3", "--history", "4", "--duration", "4", "--interval", "1",
         "--incident", "outage:b-1@0+600"],
        cwd=ROOT, env=child_env(DATABASE_URL=test_database_url), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "back-filled 4 minutes of history" in done.stdout and "outage in b-1 starts" in done.stdout

    # apply ran: regions with the simulator's health URLs, a failover group, SLOs per service, the watch list.
    regions = {r.name: r for r in Region.objects.all()}
    assert regions["a-1"].role == "primary" and regions["b-1"].role == "standby"
    assert regions["b-1"].probe_url.endswith("/b-1/healthz")
    assert Slo.objects.filter(service="checkout").count() == 2
    assert WatchedMetric.objects.filter(name="shop.orders").exists()

    while roll_up_pending():
        pass
    minutes = {}
    for region_id, minute, requests in SpanMinute.objects.values_list("region_id", "minute", "requests"):
        minutes.setdefault(region_id, {}).setdefault(minute, 0)
        minutes[region_id][minute] += requests
    for name in ("a-1", "b-1", "c-1"):  # every region has its history, ~3 req/s x 2 services x 60 s a minute
        full = [n for n in minutes[regions[name].id].values() if n > 200]
        assert len(full) >= 3, (name, minutes[regions[name].id])
    # During the outage b-1 sent nothing, and its peers reported the broken link.
    live = RegionSignal.objects.filter(signal="observatory.network.partition", key="b-1")
    assert {s.region_id for s in live if s.value == 1} == {regions["a-1"].id, regions["c-1"].id}
    assert not RegionSignal.objects.filter(region=regions["b-1"], signal="observatory.network.partition",
                                           value=1).exists()
    lag = RegionSignal.objects.get(region=regions["c-1"], signal="observatory.replication.lag")
    assert lag.key == "a-1" and 0 < lag.value < 5
    assert SeriesMinute.objects.filter(series__name="shop.orders", increase__gt=0).exists()
