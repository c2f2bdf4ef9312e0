"""What every simulated region and service does at a time t (pure: no I/O, no Django).

Times are seconds since the simulation started (negative for the back-filled history).
Incidents are ``KIND:REGION@START[+DURATION]`` (``global@START[+DURATION]`` for all regions):
  outage   the region's health URL fails and it stops sending anything; peers see a partition
  latency  its services answer 6x slower
  errors   a third of its requests fail
  lag      its replication lag grows by 2 s every second (standbys) instead of staying ~1-3 s
  global   every region at once: 3x latency and 10% errors
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

KINDS = ("outage", "latency", "errors", "lag", "global")
DEFAULT_DURATION = 300.0
INCIDENT_RE = re.compile(r"^(?P<kind>[a-z]+)(?::(?P<region>[a-z0-9-]+))?@(?P<start>\d+(?:\.\d+)?)"
                         r"(?:\+(?P<duration>\d+(?:\.\d+)?))?$")
ROUTES = {"checkout": ("/cart", "/pay"), "catalog": ("/products", "/search"), "accounts": ("/login", "/me"),
          "shipping": ("/quote", "/track"), "payments": ("/charge", "/refund"), "search": ("/query", "/suggest")}


@dataclass(frozen=True)
class Incident:
    kind: str
    region: str | None  # None: every region (global)
    start: float
    duration: float

    def active(self, region: str, t: float) -> bool:
        return (self.region is None or self.region == region) and self.start <= t < self.start + self.duration


def parse_incident(text: str, regions: tuple[str, ...]) -> Incident:
    """Parse ``KIND:REGION@START[+DURATION]``; the error names what is wrong in ``text``."""
    match = INCIDENT_RE.match(text.strip())
    if not match:
        raise ValueError(f"incident {text!r}: expected KIND:REGION@SECONDS[+DURATION], e.g. outage:us-east-1@120+300")
    kind, region = match["kind"], match["region"]
    if kind not in KINDS:
        raise ValueError(f"incident {text!r}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "global":
        if region not in (None, "all"):
            raise ValueError(f"incident {text!r}: a global incident takes no region (global@SECONDS)")
        region = None
    elif region is None:
        raise ValueError(f"incident {text!r}: {kind} needs a region, e.g. {kind}:{regions[0]}@{match['start']}")
    elif region not in regions:
        raise ValueError(f"incident {text!r}: region {region!r} is not simulated ({', '.join(regions)})")
    duration = float(match["duration"]) if match["duration"] else DEFAULT_DURATION
    if duration <= 0:
        raise ValueError(f"incident {text!r}: duration must be positive")
    return Incident(kind, region, float(match["start"]), duration)


@dataclass(frozen=True)
class World:
    regions: tuple[str, ...]
    services: tuple[str, ...]
    rate: float = 2.0  # requests per second per service and region, on average
    incidents: tuple[Incident, ...] = ()
    base_latency_ms: float = 40.0
    base_error_ratio: float = 0.0001  # well inside a 99.9% objective, even over the first minutes

    def shifted(self, seconds: float) -> "World":
        """The same world with every incident ``seconds`` later."""
        moved = tuple(Incident(i.kind, i.region, i.start + seconds, i.duration) for i in self.incidents)
        return replace(self, incidents=moved)

    @property
    def primary(self) -> str:
        return self.regions[0]

    def _active(self, kind: str, region: str, t: float) -> bool:
        return any(i.kind == kind and i.active(region, t) for i in self.incidents)

    def up(self, region: str, t: float) -> bool:
        return not self._active("outage", region, t)

    def request_rate(self, region: str, service: str, t: float) -> float:
        """Requests per second: a gentle hourly wave, different per service."""
        phase = (sum(map(ord, service)) % 60) / 60 * 2 * math.pi
        return self.rate * (1.0 + 0.2 * math.sin(2 * math.pi * t / 3600 + phase)) if self.up(region, t) else 0.0

    def latency_factor(self, region: str, t: float) -> float:
        return (6.0 if self._active("latency", region, t) else 1.0) * (3.0 if self._active("global", region, t) else 1.0)

    def error_ratio(self, region: str, t: float) -> float:
        ratio = self.base_error_ratio
        if self._active("errors", region, t):
            ratio = max(ratio, 0.33)
        if self._active("global", region, t):
            ratio = max(ratio, 0.10)
        return ratio

    def requests(self, region: str, service: str, t0: float, t1: float, rng: np.random.Generator):
        """The requests that start in [t0, t1): (start times, durations in ms, failed?, route index)."""
        n = rng.poisson(self.request_rate(region, service, t0) * (t1 - t0))
        starts = np.sort(rng.uniform(t0, t1, n))
        durations = rng.lognormal(math.log(self.base_latency_ms), 0.4, n) * self.latency_factor(region, t0)
        failed = rng.random(n) < self.error_ratio(region, t0)
        return starts, durations, failed, rng.integers(0, 2, n)

    def lag_seconds(self, region: str, t: float, rng: np.random.Generator) -> float:
        """Replication lag of a standby behind the primary."""
        normal = 1.0 + 2.0 * rng.random()
        growing = [i for i in self.incidents if i.kind == "lag" and i.active(region, t)]
        return normal + sum(2.0 * (t - i.start) for i in growing)

    def backlog(self, region: str, t: float, rng: np.random.Generator) -> int:
        slow = self.latency_factor(region, t) > 1 or self.error_ratio(region, t) > 0.05
        return int(rng.poisson(40) * (25 if slow else 1))

    def partitioned(self, reporter: str, peer: str, t: float) -> bool:
        """Does ``reporter`` lose its link to ``peer``? Yes while the peer is down."""
        return reporter != peer and not self.up(peer, t)

    def breaker_open(self, region: str, t: float) -> bool:
        return self.error_ratio(region, t) > 0.2


def routes(service: str) -> tuple[str, str]:
    return ROUTES.get(service, ("/a", "/b"))
