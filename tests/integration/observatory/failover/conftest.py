import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from observatory.delivery.models import Endpoint
from observatory.failover import decide, evaluate, probes
from observatory.failover.models import FailoverPolicy, RegionHealth
from observatory.regions.models import Region
from observatory.telemetry.models import RegionSignal


class RegionSites:
    """Each simulated region's health URL, served for real over HTTP; tests set the answers."""

    def __init__(self):
        self.status: dict[str, int] = {}
        sites = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                code = sites.status.get(self.path.strip("/"), 404)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def sites():
    sites = RegionSites()
    yield sites
    sites.close()


class World:
    """Three regions of group storefront, a failover policy and a controller endpoint."""

    def __init__(self, sites, receiver, mode="auto", rpo=30):
        self.sites, self.receiver = sites, receiver
        now = timezone.now()
        self.regions = {}
        for name, role in (("us-east-1", "primary"), ("eu-west-1", "standby"), ("ap-south-1", "standby")):
            sites.status[name] = 200
            self.regions[name] = Region.objects.create(
                name=name, group="storefront", role=role, rpo_seconds=rpo, probe_url=f"{sites.url}/{name}",
                probe_interval_seconds=10, probe_timeout_seconds=1, probe_failure_threshold=3, last_seen_at=now)
        Endpoint.objects.create(name="controller", url=receiver.url, secret=receiver.secret, events=["failover.*"])
        self.policy = FailoverPolicy.objects.create(group="storefront", mode=mode,
                                                    candidates=["eu-west-1", "ap-south-1"], cooldown_seconds=3600)
        self.lag("eu-west-1", 2.0)
        self.lag("ap-south-1", 1.0)

    def lag(self, region: str, seconds: float):
        RegionSignal.objects.update_or_create(region=self.regions[region], signal="observatory.replication.lag",
                                              key="us-east-1", defaults={"value": seconds,
                                                                         "observed_at": timezone.now()})

    def partition(self, reporter: str, peer: str, value: float = 1.0):
        RegionSignal.objects.update_or_create(region=self.regions[reporter], signal="observatory.network.partition",
                                              key=peer, defaults={"value": value, "observed_at": timezone.now()})

    def telemetry(self, region: str, fresh: bool):
        seen = timezone.now() - (timedelta(seconds=1) if fresh else timedelta(minutes=10))
        Region.objects.filter(name=region).update(last_seen_at=seen)

    def probe_round(self, rounds: int = 1):
        """Probe every region now (as if each interval had passed), then decide."""
        for _ in range(rounds):
            RegionHealth.objects.update(next_probe_at=None)
            probes.probe_due()
            evaluate.evaluate_all()
            decide.run_decider("test-decider")

    def state(self, region: str) -> str:
        return RegionHealth.objects.get(region__name=region).state

    def outage(self, region: str = "us-east-1"):
        """The region goes down: its health URL fails and its peers lose it. (Its telemetry stops
        too, but only counts as stale after REGION_STALE_AFTER_SECONDS.)"""
        self.sites.status[region] = 503
        for peer in self.regions:
            if peer != region:
                self.partition(peer, region)


@pytest.fixture
def world(transactional_db, sites, webhook_receiver):
    return World(sites, webhook_receiver)


@pytest.fixture
def operator(transactional_db):
    user = get_user_model().objects.create_user("oncall", password="a-long-password-42")
    user.user_permissions.add(Permission.objects.get(codename="operate_failover"))
    return user
