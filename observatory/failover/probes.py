"""Route 53-style active health checks: each region's probe URL at its interval, with a timeout.

A check fails on a status outside 2xx/3xx, a timeout or no answer. Each probe is
claimed with a conditional UPDATE of next_probe_at, so several workers never
probe the same region twice; the region is re-evaluated right after its probe.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from observatory import outbound
from observatory.failover.evaluate import evaluate_region
from observatory.failover.models import ProbeResult, RegionHealth
from observatory.regions.models import Region


def claim_due(now) -> list[Region]:
    due = []
    for region in Region.objects.exclude(probe_url=""):
        health, _ = RegionHealth.objects.get_or_create(region=region)
        if health.next_probe_at is not None and health.next_probe_at > now:
            continue
        interval = timedelta(seconds=region.probe_interval_seconds)
        # Keep the cadence: the next probe is one interval after this one was due, not after
        # the tick that noticed it (ticks are a second apart), unless we have fallen behind.
        following = health.next_probe_at + interval if health.next_probe_at else now + interval
        if following <= now:
            following = now + interval
        claimed = RegionHealth.objects.filter(region=region, next_probe_at=health.next_probe_at).update(
            next_probe_at=following, last_probe_at=now)
        if claimed:
            due.append(region)
    return due


def check(region: Region) -> outbound.Outcome:
    return outbound.request("GET", region.probe_url, timeout=region.probe_timeout_seconds, max_bytes=4096)


def record(region: Region, outcome: outbound.Outcome, at) -> bool:
    ok = outcome.status is not None and 200 <= outcome.status < 400
    error = outcome.error or ("" if ok else f"HTTP {outcome.status}")
    with transaction.atomic():
        ProbeResult.objects.create(region=region, at=at, ok=ok, status_code=outcome.status,
                                   duration_ms=outcome.duration_ms, error=error[:300])
        if ok:
            RegionHealth.objects.filter(region=region).update(probe_successes=F("probe_successes") + 1,
                                                               probe_failures=0)
        else:
            RegionHealth.objects.filter(region=region).update(probe_failures=F("probe_failures") + 1,
                                                               probe_successes=0)
    return ok


def probe_due() -> int:
    """Probe every region that is due, in parallel; returns how many were probed."""
    now = timezone.now()
    due = claim_due(now)
    if not due:
        return 0

    def run(region: Region):
        try:
            record(region, check(region), now)
            evaluate_region(region.id)
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=min(8, len(due))) as pool:
        list(pool.map(run, due))
    return len(due)
