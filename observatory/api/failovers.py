from datetime import datetime, timedelta
from uuid import UUID

from django.shortcuts import get_object_or_404
from ninja import Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from observatory.failover import actions
from observatory.failover.models import Decision, RegionHealth
from observatory.regions.models import Region
from observatory.telemetry.models import RegionSignal


class DecisionOut(Schema):
    id: UUID
    group: str
    epoch: int
    state: str
    mode: str
    manual: bool
    source: str
    target: str
    reason: str
    gates: list
    evidence: dict
    replication: dict
    accept_data_loss: bool
    requested_by: str
    approvals: list
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    outcome_detail: str


class ManualIn(Schema):
    group: str
    target: str
    reason: str = Field(..., min_length=1)
    accept_data_loss: bool = False


class ApproveIn(Schema):
    reason: str = Field(..., min_length=1)
    accept_data_loss: bool = False


class AbortIn(Schema):
    reason: str = Field(..., min_length=1)


class CallbackIn(Schema):
    status: str = Field(..., pattern="^(executed|failed)$")
    detail: str = ""


def _out(decision: Decision) -> dict:
    data = {f.name: getattr(decision, f.name) for f in Decision._meta.fields if f.name not in ("source", "target")}
    return {**data, "source": decision.source.name, "target": decision.target.name}


def _operator(request) -> str:
    if not request.user.has_perm("failover.operate_failover"):
        raise HttpError(403, "operating failover needs the failover.operate_failover permission")
    return request.user.get_username()


def _act(fn, *args, **kwargs) -> dict:
    try:
        return _out(fn(*args, **kwargs))
    except actions.ActionError as exc:
        raise HttpError(409, str(exc)) from None


def register(api):
    @api.get("/regions", tags=["regions"], summary="Regions with their health state and current signals")
    def list_regions(request):
        healths = {h.region_id: h for h in RegionHealth.objects.all()}
        signals = {}
        for s in RegionSignal.objects.all():
            signals.setdefault(s.region_id, []).append(
                {"signal": s.signal, "key": s.key, "value": s.value, "observed_at": s.observed_at})
        from dataclasses import asdict

        from django.utils import timezone

        from observatory.failover.decide import lag_status
        from observatory.telemetry.queries import lag_reports

        now = timezone.now()
        history = lag_reports(now - timedelta(minutes=10))
        lag_signals = list(RegionSignal.objects.filter(signal="observatory.replication.lag"))
        result = []
        for region in Region.objects.all():
            health = healths.get(region.id)
            peers = sorted({s.key for s in lag_signals if s.region_id == region.id})
            replication = {peer: asdict(lag_status(region, peer, now, lag_signals, history)) for peer in peers}
            result.append({
                "name": region.name, "group": region.group, "role": region.role, "rpo_seconds": region.rpo_seconds,
                "last_seen_at": region.last_seen_at,
                "state": health.state if health else "unknown", "since": health.since if health else None,
                "evidence": health.kinds if health else [], "details": health.evidence if health else {},
                "probe": {"url": region.probe_url, "failures": health.probe_failures if health else 0,
                          "successes": health.probe_successes if health else 0,
                          "last_probe_at": health.last_probe_at if health else None},
                "signals": signals.get(region.id, []),
                "replication": replication,
            })
        return result

    @api.get("/failovers", response=list[DecisionOut], tags=["failover"], summary="Failover decisions, newest first")
    def list_failovers(request, group: str | None = None, state: str | None = None, limit: int = 100):
        decisions = Decision.objects.select_related("source", "target")
        if group:
            decisions = decisions.filter(group=group)
        if state:
            decisions = decisions.filter(state=state)
        return [_out(d) for d in decisions[: max(1, min(limit, 1000))]]

    @api.get("/failovers/{decision_id}", response=DecisionOut, tags=["failover"])
    def get_failover(request, decision_id: UUID):
        return _out(get_object_or_404(Decision.objects.select_related("source", "target"), id=decision_id))

    @api.post("/failovers", response={201: DecisionOut}, tags=["failover"], summary="Manual failover")
    def manual_failover(request, body: ManualIn):
        actor = _operator(request)
        return Status(201, _act(actions.request_manual, body.group, body.target, actor, body.reason,
                                body.accept_data_loss))

    @api.post("/failovers/{decision_id}/approve", response=DecisionOut, tags=["failover"])
    def approve(request, decision_id: UUID, body: ApproveIn):
        actor = _operator(request)
        get_object_or_404(Decision, id=decision_id)
        return _act(actions.approve, decision_id, actor, body.reason, body.accept_data_loss)

    @api.post("/failovers/{decision_id}/abort", response=DecisionOut, tags=["failover"])
    def abort(request, decision_id: UUID, body: AbortIn):
        actor = _operator(request)
        get_object_or_404(Decision, id=decision_id)
        return _act(actions.abort, decision_id, actor, body.reason)

    @api.post("/failovers/{decision_id}/callback", response=DecisionOut, tags=["failover"],
              summary="The controller reports whether it executed the command")
    def callback(request, decision_id: UUID, body: CallbackIn):
        actor = _operator(request)
        get_object_or_404(Decision, id=decision_id)
        return _act(actions.record_callback, decision_id, body.status == "executed", body.detail, actor)
