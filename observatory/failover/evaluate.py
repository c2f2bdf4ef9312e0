"""Gather each region's health inputs from the database, run the pure state machine,
and store the result; every state change is a HealthTransition row with its evidence."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from observatory.analytics.health import (
    HealthInputs, HealthResult, HealthState, ProbeStreak, evaluate_health, partition_evidence,
)
from observatory.failover.models import HealthTransition, RegionHealth
from observatory.regions.models import Region
from observatory.telemetry.models import RegionSignal, SignalMapping

BREAKER_OPEN = 2


def collect_inputs(region: Region, regions: list[Region], signals: list[RegionSignal], health: RegionHealth,
                   now, burning: dict[int, tuple[str, ...]] | None = None) -> HealthInputs:
    fresh_after = now - timedelta(seconds=settings.SIGNAL_MAX_AGE_SECONDS)
    live = [s for s in signals if s.observed_at >= fresh_after]
    own = [s for s in live if s.region_id == region.id]
    breakers = tuple(s.key for s in own if s.signal == SignalMapping.Signal.CIRCUIT_BREAKER and s.value >= BREAKER_OPEN)
    backlog = tuple(s.key for s in own if s.signal == SignalMapping.Signal.QUEUE_BACKLOG
                    and s.value > settings.BACKLOG_LIMIT)
    return HealthInputs(
        probe=ProbeStreak(health.probe_failures, health.probe_successes) if region.probe_url else None,
        failure_threshold=region.probe_failure_threshold,
        telemetry_age_seconds=(now - region.last_seen_at).total_seconds() if region.last_seen_at else None,
        stale_after_seconds=settings.REGION_STALE_AFTER_SECONDS,
        open_breakers=breakers,
        partitioned_peers=_partition_evidence(region, regions, live),
        backlogged_queues=backlog,
        slo_fast_burn=(burning or {}).get(region.id, ()),
    )


def _partition_evidence(region: Region, regions: list[Region], live: list[RegionSignal]) -> tuple[str, ...]:
    names = {r.id: r.name for r in regions}
    reports = [(names[s.region_id], s.key) for s in live
               if s.signal == SignalMapping.Signal.NETWORK_PARTITION and s.value >= 1 and s.region_id in names]
    return partition_evidence(region.name, list(names.values()), reports)


def evaluate_region(region_id: int, now=None, regions=None, signals=None) -> HealthResult | None:
    """Evaluate one region under a row lock; store the state and, on change, a transition."""
    now = now or timezone.now()
    regions = list(Region.objects.all()) if regions is None else regions
    region = next((r for r in regions if r.id == region_id), None)
    if region is None:
        return None
    signals = list(RegionSignal.objects.all()) if signals is None else signals
    burning = fast_burning_slos()
    with transaction.atomic():
        RegionHealth.objects.get_or_create(region_id=region.id)
        health = RegionHealth.objects.select_for_update().get(region_id=region.id)
        inputs = collect_inputs(region, regions, signals, health, now, burning)
        result = evaluate_health(HealthState(health.state, health.clean_streak), inputs)
        if result.state != health.state:
            HealthTransition.objects.create(region=region, from_state=health.state, to_state=result.state, at=now,
                                            kinds=list(result.kinds), evidence=result.evidence)
            health.since = now
        health.state, health.clean_streak = result.state, result.clean_streak
        health.kinds, health.evidence, health.evaluated_at = list(result.kinds), result.evidence, now
        health.save()
    return result


def evaluate_all(now=None) -> dict[str, str]:
    regions, signals = list(Region.objects.all()), list(RegionSignal.objects.all())
    return {r.name: evaluate_region(r.id, now, regions, signals).state for r in regions}


def fast_burning_slos() -> dict[int, tuple[str, ...]]:
    """{region id: SLOs whose page tier notifies there}, from the latest SLO evaluation."""
    from observatory.slos.models import SloStatus

    burning: dict[int, list[str]] = {}
    for region_id, name in SloStatus.objects.filter(page=True, region__isnull=False).values_list(
            "region_id", "slo__name"):
        burning.setdefault(region_id, []).append(name)
    return {region_id: tuple(sorted(names)) for region_id, names in burning.items()}
