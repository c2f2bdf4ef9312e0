"""Failover gates (pure): should traffic leave a region, and to where?

Every gate is evaluated and recorded with its verdict, even after one fails, so
the console and the webhook can show exactly why a decision was or was not made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from observatory.analytics.health import HEALTHY, UNHEALTHY

AUTO, APPROVE, ADVISE = "auto", "approve", "advise"
MODES = (AUTO, APPROVE, ADVISE)

# Outcomes
NO_ACTION = "none"  # a gate that only a change of facts can open is closed
DISPATCH = "dispatch"  # automatic failover: send failover.requested now
AWAIT_APPROVAL = "await_approval"  # a human must approve (mode, or data loss to accept)
DRY_RUN = "dry_run"  # advise mode: tell, do nothing


@dataclass(frozen=True)
class Policy:
    group: str
    mode: str
    candidates: tuple[str, ...]  # preferred targets, in order
    cooldown_seconds: int = 3600
    rpo_seconds: int = 60


@dataclass(frozen=True)
class RegionView:
    name: str
    active: bool  # serving traffic now
    state: str
    evidence_kinds: tuple[str, ...] = ()
    lag_seconds: float | None = None  # replication lag behind the active source; None = unknown
    lag_state: str = "unknown"  # from analytics.replication: ok | over_rpo | stale | unknown


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str


@dataclass
class Assessment:
    source: str
    target: str | None
    outcome: str
    gates: list[Gate] = field(default_factory=list)
    data_loss_seconds: float | None = None

    def gate(self, name: str) -> Gate:
        return next(g for g in self.gates if g.name == name)


def choose_target(policy: Policy, regions: dict[str, RegionView], source: str) -> RegionView | None:
    """The first healthy candidate, in policy order, that is not the source."""
    for name in policy.candidates:
        region = regions.get(name)
        if region is not None and name != source and region.state == HEALTHY:
            return region
    return None


def assess_failover(policy: Policy, regions: dict[str, RegionView], source: str, now: datetime,
                    last_failover_at: datetime | None, central_data_fresh: bool,
                    accept_data_loss: bool = False) -> Assessment:
    """Evaluate every gate for moving traffic away from ``source``."""
    src = regions[source]
    target = choose_target(policy, regions, source)
    gates: list[Gate] = []

    corroborated = src.state == UNHEALTHY and len(src.evidence_kinds) >= 2
    gates.append(Gate("source_unhealthy", corroborated,
                      f"{source} is {src.state} with evidence: {', '.join(src.evidence_kinds) or 'none'}"
                      + ("" if corroborated else " (needs UNHEALTHY and at least 2 kinds)")))

    gates.append(Gate("target_healthy", target is not None,
                      f"{target.name} is healthy" if target else
                      f"no healthy candidate among {', '.join(c for c in policy.candidates if c != source) or 'none'}"))

    loss = None
    if target is None:
        gates.append(Gate("target_within_rpo", False, "no target"))
    else:
        loss = target.lag_seconds
        within = target.lag_state == "ok" and loss is not None and loss <= policy.rpo_seconds
        if within:
            detail = f"{target.name} lags {loss:g}s, within RPO {policy.rpo_seconds}s"
        elif loss is None or target.lag_state in ("unknown", "stale"):
            detail = f"{target.name} replication lag is {target.lag_state}; data at risk unknown"
        else:
            detail = f"{target.name} lags {loss:g}s, beyond RPO {policy.rpo_seconds}s"
        if not within and accept_data_loss:
            detail += "; data loss accepted by an operator"
        gates.append(Gate("target_within_rpo", within or accept_data_loss, detail))

    active_after = sum(1 for r in regions.values() if r.active and r.name != source) + (1 if target else 0)
    gates.append(Gate("leaves_active_region", active_after >= 1, f"{active_after} region(s) active after failover"))

    if last_failover_at is None:
        gates.append(Gate("cooldown", True, "no earlier failover in this group"))
    else:
        ready_at = last_failover_at + timedelta(seconds=policy.cooldown_seconds)
        gates.append(Gate("cooldown", now >= ready_at,
                          f"last failover at {last_failover_at:%Y-%m-%dT%H:%M:%SZ}; cooldown "
                          f"{policy.cooldown_seconds}s " + ("over" if now >= ready_at else
                                                            f"until {ready_at:%Y-%m-%dT%H:%M:%SZ}")))

    gates.append(Gate("central_data_fresh", central_data_fresh,
                      "Observatory's own data is current" if central_data_fresh else
                      "Observatory's own data is stale; it cannot judge regions"))

    degraded = [r.name for r in regions.values() if r.state != HEALTHY]
    global_incident = len(regions) > 1 and len(degraded) == len(regions)
    gates.append(Gate("not_global_incident", not global_incident,
                      "every region is degraded: a global incident, failover would not help" if global_incident
                      else f"{len(regions) - len(degraded)} of {len(regions)} regions healthy"))

    gates.append(Gate("mode", policy.mode != ADVISE, f"group {policy.group} is in {policy.mode} mode"))

    hard = [g for g in gates if g.name not in ("target_within_rpo", "mode")]
    if not all(g.passed for g in hard):
        outcome = NO_ACTION
    elif policy.mode == ADVISE:
        outcome = DRY_RUN
    elif policy.mode == APPROVE or not _gate(gates, "target_within_rpo").passed:
        outcome = AWAIT_APPROVAL
    else:
        outcome = DISPATCH
    return Assessment(source, target.name if target else None, outcome, gates, loss)


def _gate(gates: list[Gate], name: str) -> Gate:
    return next(g for g in gates if g.name == name)
