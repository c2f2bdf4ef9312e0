"""The decision engine: one decider at a time (a database lease), gates from
analytics.failover, one open decision per group (a partial unique index), and a
fencing epoch per group that only ever grows."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from observatory.analytics import failover as gates
from observatory.analytics.replication import LagReport, assess_lag
from observatory.delivery import outbox
from observatory.failover.models import Decision, FailoverPolicy, GroupState, Lease, RegionHealth
from observatory.regions.models import Region
from observatory.telemetry import queries
from observatory.telemetry.models import RegionSignal, SignalMapping

log = logging.getLogger(__name__)
LEASE_NAME = "failover-decider"


def acquire_lease(holder: str, ttl_seconds: float = 30.0) -> bool:
    """Take or renew the decider lease; False while another holder's lease is live."""
    now = timezone.now()
    expires = now + timedelta(seconds=ttl_seconds)
    Lease.objects.get_or_create(name=LEASE_NAME, defaults={"holder": holder, "expires_at": now})
    taken = Lease.objects.filter(Q(holder=holder) | Q(expires_at__lt=now), name=LEASE_NAME).update(
        holder=holder, expires_at=expires)
    return bool(taken)


def group_state(group: str, regions: list[Region]) -> GroupState:
    primary = next((r for r in regions if r.role == Region.Role.PRIMARY), regions[0] if regions else None)
    state, _ = GroupState.objects.get_or_create(group=group, defaults={"active_region": primary})
    return state


def lag_status(region: Region, peer: str, now, signals=None, history=None):
    """Replication lag of ``region`` behind ``peer``: minute history plus the latest report."""
    history = queries.lag_reports(now - timedelta(minutes=10)) if history is None else history
    signals = RegionSignal.objects.filter(region=region, signal=SignalMapping.Signal.REPLICATION_LAG) \
        if signals is None else signals
    reports = [LagReport(at, value) for at, value in history.get((region.id, peer), [])]
    reports += [LagReport(s.observed_at, s.value) for s in signals if s.region_id == region.id and s.key == peer]
    return assess_lag(reports, now, region.rpo_seconds, timedelta(seconds=settings.SIGNAL_MAX_AGE_SECONDS))


def region_views(regions: list[Region], state: GroupState, now) -> dict[str, gates.RegionView]:
    healths = {h.region_id: h for h in RegionHealth.objects.filter(region__in=regions)}
    lag_signals = list(RegionSignal.objects.filter(region__in=regions, signal=SignalMapping.Signal.REPLICATION_LAG))
    history = queries.lag_reports(now - timedelta(minutes=10))
    active = state.active_region
    views = {}
    for region in regions:
        health = healths.get(region.id)
        lag = None
        if active is not None and region.id != active.id:
            lag = lag_status(region, active.name, now, lag_signals, history)
        views[region.name] = gates.RegionView(
            region.name, active is not None and region.id == active.id,
            health.state if health else "unknown", tuple(health.kinds) if health else (),
            lag.current_seconds if lag else None, lag.state if lag else "unknown")
    return views


def central_data_fresh(regions: list[Region], source: str, now) -> bool:
    """Our own view is current: some other region's telemetry is recent and probes are running."""
    recent = now - timedelta(seconds=settings.REGION_STALE_AFTER_SECONDS)
    others_seen = any(r.last_seen_at and r.last_seen_at >= recent for r in regions if r.name != source)
    probed = RegionHealth.objects.filter(region__name=source, last_probe_at__gte=now - timedelta(minutes=2)).exists()
    source_region = next(r for r in regions if r.name == source)
    return others_seen and (probed or not source_region.probe_url)


def release_lease(holder: str) -> None:
    Lease.objects.filter(name=LEASE_NAME, holder=holder).update(expires_at=timezone.now())


def run_decider(holder: str | None = None) -> list[Decision]:
    """One decider pass. The lease keeps passes from overlapping and is released at the end,
    so the next probe or tick can decide at once; epochs and the one-open-decision index
    stop duplicates even if a lease expires mid-pass."""
    holder = holder or f"decider-{uuid.uuid4().hex[:8]}"
    if not acquire_lease(holder):
        return []
    try:
        return _decide_all()
    finally:
        release_lease(holder)


def _decide_all() -> list[Decision]:
    made = []
    now = timezone.now()
    for policy in FailoverPolicy.objects.all():
        regions = list(Region.objects.filter(group=policy.group))
        if not regions:
            continue
        state = group_state(policy.group, regions)
        views = region_views(regions, state, now)
        active = state.active_region
        if active is None or views[active.name].state != "unhealthy":
            continue
        assessment = gates.assess_failover(_policy(policy, regions, active), views, active.name, now,
                                           state.last_failover_at, central_data_fresh(regions, active.name, now))
        GroupState.objects.filter(id=state.id).update(last_assessment=_assessment_json(assessment, now))
        if assessment.outcome == gates.NO_ACTION:
            continue
        decision = _create(policy, state, assessment, views, now)
        if decision:
            made.append(decision)
    return made


def _policy(policy: FailoverPolicy, regions: list[Region], active: Region) -> gates.Policy:
    candidates = tuple(policy.candidates) or tuple(
        r.name for r in sorted(regions, key=lambda r: (r.role != Region.Role.STANDBY, r.name)))
    return gates.Policy(policy.group, policy.mode, candidates, policy.cooldown_seconds, active.rpo_seconds)


def _assessment_json(assessment: gates.Assessment, now) -> dict:
    return {"at": now.isoformat(), "source": assessment.source, "target": assessment.target,
            "outcome": assessment.outcome,
            "gates": [{"name": g.name, "passed": g.passed, "detail": g.detail} for g in assessment.gates]}


def _create(policy: FailoverPolicy, state: GroupState, assessment: gates.Assessment, views, now,
            manual_by: str = "", reason: str = "", accept_data_loss: bool = False) -> Decision | None:
    """Create the group's next decision under a new epoch; None if another decider got there first."""
    new_state = {gates.DISPATCH: Decision.State.DISPATCHED, gates.AWAIT_APPROVAL: Decision.State.AWAITING_APPROVAL,
                 gates.DRY_RUN: Decision.State.DRY_RUN}[assessment.outcome]
    regions = {r.name: r for r in Region.objects.filter(group=policy.group)}
    source = views[assessment.source]
    try:
        with transaction.atomic():
            epoch = state.epoch + 1
            if not GroupState.objects.filter(id=state.id, epoch=state.epoch).update(
                    epoch=epoch, **({"last_failover_at": now} if new_state == Decision.State.DISPATCHED else {})):
                return None  # the epoch moved under us: someone else decided
            decision = Decision.objects.create(
                group=policy.group, epoch=epoch, manual=bool(manual_by), source=regions[assessment.source],
                target=regions[assessment.target], state=new_state, mode=policy.mode,
                reason=reason or f"{assessment.source} is unhealthy ({', '.join(source.evidence_kinds)})",
                gates=_assessment_json(assessment, now)["gates"],
                evidence={name: {"state": v.state, "evidence": list(v.evidence_kinds)} for name, v in views.items()},
                replication={"target_lag_seconds": assessment.data_loss_seconds,
                             "rpo_seconds": regions[assessment.source].rpo_seconds,
                             "lag_state": views[assessment.target].lag_state},
                accept_data_loss=accept_data_loss, requested_by=manual_by,
                expires_at=now + timedelta(seconds=policy.command_ttl_seconds),
            )
            if new_state in (Decision.State.DISPATCHED, Decision.State.DRY_RUN):
                event = "failover.requested" if new_state == Decision.State.DISPATCHED else "failover.dry_run"
                send(decision, event, policy)
    except IntegrityError:
        return None  # an open decision for the group already exists
    log.warning("failover decision %s: %s -> %s, %s (epoch %d)", decision.id, decision.source.name,
                decision.target.name, decision.state, decision.epoch)
    return decision


def payload(decision: Decision, event: str) -> dict:
    return {
        "type": event,
        "decision_id": str(decision.id),
        "epoch": decision.epoch,
        "group": decision.group,
        "from_region": decision.source.name,
        "to_region": decision.target.name,
        "mode": decision.mode,
        "manual": decision.manual,
        "reason": decision.reason,
        "gates": decision.gates,
        "evidence": decision.evidence,
        "replication": decision.replication,
        "accept_data_loss": decision.accept_data_loss,
        "approvals": decision.approvals,
        "requested_by": decision.requested_by,
        "created_at": decision.created_at.isoformat(),
        "expires_at": decision.expires_at.isoformat(),
    }


def send(decision: Decision, event: str, policy: FailoverPolicy | None = None) -> None:
    policy = policy or FailoverPolicy.objects.get(group=decision.group)
    outbox.enqueue(event, payload(decision, event), endpoints=policy.notify or None,
                   expires_at=decision.expires_at if event in ("failover.requested", "failover.approved") else None)
