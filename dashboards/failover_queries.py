"""Read models for the failover console: policies, active regions, open decisions with their
gates, history with delivery attempts, and the data-at-risk estimate of a manual failover."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Prefetch

from observatory.delivery.models import Delivery, DeliveryAttempt
from observatory.failover.decide import lag_status
from observatory.failover.models import AuditEntry, Decision, FailoverPolicy, GroupState
from observatory.regions.models import Region
from observatory.telemetry import queries as telemetry
from observatory.telemetry.models import RegionSignal, SignalMapping


def _groups(allowed: set[str] | None) -> dict[str, list[Region]]:
    groups: dict[str, list[Region]] = defaultdict(list)
    for region in Region.objects.select_related("health").order_by("group", "name"):
        groups[region.group].append(region)
    if allowed is not None:  # a group is shown when the user may see one of its regions
        groups = {g: rs for g, rs in groups.items() if any(r.name in allowed for r in rs)}
    return groups


def console(allowed: set[str] | None, now: datetime) -> dict:
    groups = _groups(allowed)
    policies = {p.group: p for p in FailoverPolicy.objects.filter(group__in=list(groups))}
    states = {s.group: s for s in GroupState.objects.filter(group__in=list(groups)).select_related("active_region")}
    decisions = list(Decision.objects.filter(group__in=list(groups)).select_related("source", "target")[:30])
    attach_deliveries(decisions)
    return {
        "groups": [{"name": g, "regions": regions, "policy": policies.get(g), "state": states.get(g)}
                   for g, regions in groups.items()],
        "pending": [d for d in decisions if d.state in Decision.OPEN],
        "history": [d for d in decisions if d.state not in Decision.OPEN],
    }


def attach_deliveries(decisions: list[Decision]) -> None:
    """Sets ``decision.deliveries``: the webhook deliveries of its commands, with their attempts."""
    by_id = {str(d.id): d for d in decisions}
    for d in decisions:
        d.deliveries = []
    if not by_id:
        return
    attempts = Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
    for delivery in Delivery.objects.filter(payload__decision_id__in=list(by_id)).select_related(
            "endpoint").prefetch_related(attempts).order_by("created_at"):
        by_id[delivery.payload["decision_id"]].deliveries.append(delivery)


def decision_detail(decision: Decision) -> dict:
    attach_deliveries([decision])
    return {"decision": decision, "policy": FailoverPolicy.objects.filter(group=decision.group).first(),
            "audit": list(AuditEntry.objects.filter(subject__startswith=f"decision {decision.id}")[:20])}


def manual_estimate(group: str, target: str, now: datetime) -> dict | None:
    """What a manual failover to ``target`` would risk: the target's replication lag behind the
    active region, against the RPO. None if the group or target is unknown."""
    regions = {r.name: r for r in Region.objects.filter(group=group).select_related("health")}
    state = GroupState.objects.filter(group=group).select_related("active_region").first()
    if target not in regions or state is None or state.active_region is None:
        return None
    active = state.active_region
    signals = list(RegionSignal.objects.filter(region=regions[target], signal=SignalMapping.Signal.REPLICATION_LAG))
    lag = lag_status(regions[target], active.name, now, signals, telemetry.lag_reports(now - timedelta(minutes=10)))
    health = getattr(regions[target], "health", None)
    return {"group": group, "source": active, "target": regions[target], "lag": lag,
            "rpo_seconds": active.rpo_seconds, "target_state": health.state if health else "unknown",
            "needs_data_loss": lag.within_rpo is not True}
