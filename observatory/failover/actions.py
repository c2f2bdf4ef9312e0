"""Human actions on failover: approve, abort, manual failover, and the controller's callback.

Each needs an actor and a reason, is a conditional state change (safe to retry),
and leaves an audit entry.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from observatory.analytics import failover as gates
from observatory.failover import decide
from observatory.failover.models import AuditEntry, Decision, FailoverPolicy, GroupState
from observatory.regions.models import Region


class ActionError(ValueError):
    """The action cannot be taken as asked; the message says why."""


def _audit(actor: str, action: str, decision: Decision, reason: str, **details) -> None:
    AuditEntry.objects.create(actor=actor, action=action, subject=f"decision {decision.id} ({decision.group})",
                              reason=reason, details=details)


def _require(actor: str, reason: str) -> None:
    if not actor:
        raise ActionError("an operator is required")
    if not reason or not reason.strip():
        raise ActionError("a reason is required")


def approve(decision_id, actor: str, reason: str, accept_data_loss: bool = False) -> Decision:
    _require(actor, reason)
    with transaction.atomic():
        decision = Decision.objects.select_for_update().select_related("source", "target").get(id=decision_id)
        if decision.state != Decision.State.AWAITING_APPROVAL:
            raise ActionError(f"decision is {decision.state}, not awaiting approval")
        rpo_gate = next((g for g in decision.gates if g["name"] == "target_within_rpo"), {"passed": True})
        if not rpo_gate["passed"] and not accept_data_loss:
            raise ActionError(f"the target is beyond RPO ({rpo_gate.get('detail')}); approving needs "
                              "accept_data_loss=true")
        policy = FailoverPolicy.objects.get(group=decision.group)
        now = timezone.now()
        decision.approvals = decision.approvals + [{"by": actor, "at": now.isoformat(), "reason": reason}]
        decision.accept_data_loss = accept_data_loss or decision.accept_data_loss
        decision.state = Decision.State.DISPATCHED
        decision.expires_at = now + timedelta(seconds=policy.command_ttl_seconds)
        decision.save()
        GroupState.objects.filter(group=decision.group).update(last_failover_at=now)
        decide.send(decision, "failover.approved", policy)
        _audit(actor, "approve", decision, reason, accept_data_loss=accept_data_loss)
    return decision


def abort(decision_id, actor: str, reason: str) -> Decision:
    _require(actor, reason)
    with transaction.atomic():
        decision = Decision.objects.select_for_update().select_related("source", "target").get(id=decision_id)
        if decision.state not in Decision.OPEN:
            raise ActionError(f"decision is {decision.state}; only open decisions can be aborted")
        was_sent = decision.state in (Decision.State.APPROVED, Decision.State.DISPATCHED)
        decision.state, decision.outcome_detail = Decision.State.ABORTED, f"aborted by {actor}: {reason}"
        decision.save()
        if was_sent:
            decide.send(decision, "failover.aborted")
        _audit(actor, "abort", decision, reason)
    return decision


def request_manual(group: str, target: str, actor: str, reason: str, accept_data_loss: bool = False) -> Decision:
    """An operator's failover: skips the source-health and cooldown gates, never the target's safety."""
    _require(actor, reason)
    policy = FailoverPolicy.objects.filter(group=group).first()
    if policy is None:
        raise ActionError(f"no failover policy for group {group!r}")
    regions = list(Region.objects.filter(group=group))
    if target not in {r.name for r in regions}:
        raise ActionError(f"{target!r} is not a region of group {group!r}")
    now = timezone.now()
    state = decide.group_state(group, regions)
    if state.active_region is None or state.active_region.name == target:
        raise ActionError(f"{target} is already the active region of {group}")
    views = decide.region_views(regions, state, now)
    if views[target].state == "unhealthy":
        raise ActionError(f"{target} is unhealthy; refusing to move traffic there")
    manual_policy = gates.Policy(group, gates.AUTO, (target,), 0, state.active_region.rpo_seconds)
    assessment = gates.assess_failover(manual_policy, {**views, target: _as_healthy(views[target])},
                                       state.active_region.name, now, None, True, accept_data_loss)
    if not assessment.gate("target_within_rpo").passed:
        raise ActionError(f"{assessment.gate('target_within_rpo').detail}; set accept_data_loss=true to proceed")
    assessment.outcome = gates.DISPATCH
    decision = decide._create(policy, state, assessment, views, now, manual_by=actor, reason=reason,
                              accept_data_loss=accept_data_loss)
    if decision is None:
        raise ActionError(f"group {group} already has an open decision; approve or abort it first")
    _audit(actor, "manual_failover", decision, reason, target=target, accept_data_loss=accept_data_loss)
    return decision


def _as_healthy(view):
    from dataclasses import replace

    return replace(view, state="healthy")  # the operator vouches for a suspect target


def record_callback(decision_id, executed: bool, detail: str, actor: str) -> Decision:
    """The controller reports the command's outcome: COMPLETED moves the group's active region."""
    with transaction.atomic():
        decision = Decision.objects.select_for_update().select_related("source", "target").get(id=decision_id)
        final = Decision.State.COMPLETED if executed else Decision.State.FAILED
        if decision.state == final:
            return decision  # a retried callback
        if decision.state != Decision.State.DISPATCHED:
            raise ActionError(f"decision is {decision.state}; only dispatched decisions take a callback")
        decision.state, decision.outcome_detail = final, detail[:2000]
        decision.save()
        if executed:
            GroupState.objects.filter(group=decision.group, epoch=decision.epoch).update(active_region=decision.target)
        _audit(actor, "callback", decision, detail, executed=executed)
    return decision
