"""Region health: probe hysteresis and the region state machine (pure).

States: HEALTHY -> SUSPECT -> UNHEALTHY -> RECOVERING -> HEALTHY, plus UNKNOWN
when the region's telemetry is stale and nothing else is wrong. Each evaluation
names the kinds of evidence against the region; failover needs UNHEALTHY with at
least two kinds, so one flapping probe or lost telemetry alone never moves traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEALTHY, SUSPECT, UNHEALTHY, RECOVERING, UNKNOWN = "healthy", "suspect", "unhealthy", "recovering", "unknown"
STATES = (HEALTHY, SUSPECT, UNHEALTHY, RECOVERING, UNKNOWN)

# Kinds of evidence against a region.
PROBE, TELEMETRY, BREAKERS, PARTITION, BACKLOG, SLO = "probe", "telemetry", "breakers", "partition", "backlog", "slo"


@dataclass(frozen=True)
class ProbeStreak:
    """Consecutive probe outcomes; a success resets failures and vice versa."""

    failures: int = 0
    successes: int = 0

    def record(self, ok: bool) -> ProbeStreak:
        return ProbeStreak(0, self.successes + 1) if ok else ProbeStreak(self.failures + 1, 0)


def recovery_threshold(failure_threshold: int) -> int:
    """Recovery needs more consecutive successes than failure needed failures (hysteresis)."""
    return failure_threshold + 1


@dataclass(frozen=True)
class HealthInputs:
    probe: ProbeStreak | None  # None: the region has no probe URL
    failure_threshold: int
    telemetry_age_seconds: float | None  # None: never seen
    stale_after_seconds: float
    open_breakers: tuple[str, ...] = ()
    partitioned_peers: tuple[str, ...] = ()
    backlogged_queues: tuple[str, ...] = ()
    slo_fast_burn: tuple[str, ...] = ()  # SLOs whose page tier fires in this region


@dataclass(frozen=True)
class HealthState:
    state: str = UNKNOWN
    clean_streak: int = 0  # clean evaluations in a row while RECOVERING (regions without probes)


@dataclass(frozen=True)
class HealthResult:
    state: str
    clean_streak: int
    kinds: tuple[str, ...]
    evidence: dict = field(default_factory=dict)

    @property
    def failover_grade(self) -> bool:
        """UNHEALTHY and corroborated by at least two kinds of evidence."""
        return self.state == UNHEALTHY and len(self.kinds) >= 2


def gather_evidence(inputs: HealthInputs) -> tuple[tuple[str, ...], bool, dict]:
    """(kinds of evidence, whether a probe is failing below its threshold, details)."""
    kinds, details = [], {}
    probe = inputs.probe
    if probe is not None:
        details["probe"] = {"failures": probe.failures, "successes": probe.successes,
                            "failure_threshold": inputs.failure_threshold}
        if probe.failures >= inputs.failure_threshold:
            kinds.append(PROBE)
    age = inputs.telemetry_age_seconds
    details["telemetry_age_seconds"] = age
    if age is None or age > inputs.stale_after_seconds:
        kinds.append(TELEMETRY)
    for kind, values, label in ((BREAKERS, inputs.open_breakers, "open_breakers"),
                                (PARTITION, inputs.partitioned_peers, "partitioned_peers"),
                                (BACKLOG, inputs.backlogged_queues, "backlogged_queues"),
                                (SLO, inputs.slo_fast_burn, "slo_fast_burn")):
        if values:
            kinds.append(kind)
            details[label] = sorted(values)
    probe_wobbling = probe is not None and 0 < probe.failures < inputs.failure_threshold
    return tuple(kinds), probe_wobbling, details


def _verdict(kinds: tuple[str, ...], probe_wobbling: bool) -> str:
    """What the evidence alone says, before hysteresis."""
    if PROBE in kinds or len(set(kinds) - {TELEMETRY}) >= 2 or (TELEMETRY in kinds and len(kinds) >= 2):
        return UNHEALTHY
    if kinds == (TELEMETRY,):
        return UNKNOWN
    if kinds or probe_wobbling:
        return SUSPECT
    return HEALTHY


def evaluate_health(previous: HealthState, inputs: HealthInputs) -> HealthResult:
    kinds, probe_wobbling, details = gather_evidence(inputs)
    verdict = _verdict(kinds, probe_wobbling)
    needed = recovery_threshold(inputs.failure_threshold)
    state, streak = previous.state, previous.clean_streak
    if verdict == UNHEALTHY:
        state, streak = UNHEALTHY, 0
    elif state in (UNHEALTHY, RECOVERING):
        # Leaving UNHEALTHY takes consecutive good probes (or clean evaluations without a probe).
        clean = verdict == HEALTHY
        streak = streak + 1 if clean else 0
        progress = inputs.probe.successes if inputs.probe is not None else streak
        state = HEALTHY if clean and progress >= needed else RECOVERING
        if state == HEALTHY:
            streak = 0
    else:
        state, streak = verdict, 0
    details["recovery_needed"] = needed
    return HealthResult(state, streak, kinds, details)


def partition_evidence(region: str, regions: list[str], reports: list[tuple[str, str]]) -> tuple[str, ...]:
    """Evidence that ``region`` is cut off, from (reporter, unreachable peer) partition reports.

    It counts when most of its peers cannot reach it, or when it cannot reach most of its peers -
    not counting peers that most regions cannot reach, whose fault that is.
    """
    peers = [r for r in regions if r != region]
    if not peers:
        return ()
    needed = len(peers) // 2 + 1  # a strict majority of peers

    def cut_off(name: str) -> list[str]:
        return sorted({reporter for reporter, target in reports if target == name and reporter != name})

    lost_by_most = {r for r in regions if len(cut_off(r)) > (len(regions) - 1) / 2}
    unreachable_from = cut_off(region)
    cannot_reach = sorted({target for reporter, target in reports
                           if reporter == region and target != region and target not in lost_by_most})
    evidence = []
    if len(unreachable_from) >= needed:
        evidence += [f"unreachable from {name}" for name in unreachable_from]
    if len(cannot_reach) >= needed:
        evidence += [f"cannot reach {name}" for name in cannot_reach]
    return tuple(evidence)
