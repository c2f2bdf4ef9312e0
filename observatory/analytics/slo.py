"""SLO burn rates with multi-window, multi-burn-rate tiers (pure).

Follows the Google SRE Workbook, "Alerting on SLOs": a tier fires when both its
long and short windows burn faster than ``budget_fraction * period / long``.
Counts are summed, never averaged: the global figure adds good and total events
across regions before dividing.

A window longer than the data's history is only partly covered: its burn is scaled
by the covered share (the missing part counts as no errors). A tier then fires when
the budget actually spent reaches its fraction, as the Workbook defines it, rather
than when ten minutes of history burn fast "over three days". A full window is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

PAGE, TICKET = "page", "ticket"


@dataclass(frozen=True)
class Tier:
    name: str
    long: timedelta
    short: timedelta
    budget_fraction: float  # share of the period's error budget the tier reacts to
    severity: str

    def threshold(self, period: timedelta) -> float:
        return self.budget_fraction * (period / self.long)


TIERS = (
    Tier("1h", timedelta(hours=1), timedelta(minutes=5), 0.02, PAGE),
    Tier("6h", timedelta(hours=6), timedelta(minutes=30), 0.05, PAGE),
    Tier("1d", timedelta(days=1), timedelta(hours=2), 0.10, TICKET),
    Tier("3d", timedelta(days=3), timedelta(hours=6), 0.10, TICKET),
)
WINDOWS = tuple(sorted({t.long for t in TIERS} | {t.short for t in TIERS}))


@dataclass(frozen=True)
class Counts:
    good: float = 0.0
    total: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.good + other.good, self.total + other.total)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.good - other.good, self.total - other.total)

    @property
    def bad(self) -> float:
        return max(0.0, self.total - self.good)

    def error_ratio(self) -> float | None:
        return self.bad / self.total if self.total > 0 else None


def aggregate(counts: list[Counts]) -> Counts:
    """Global counts: the sum over regions (a ratio of sums, never an average of ratios)."""
    total = Counts()
    for c in counts:
        total = total + c
    return total


def burn_rate(counts: Counts, objective: float) -> float:
    """Error ratio / error budget; 0 when there were no events."""
    ratio = counts.error_ratio()
    return 0.0 if ratio is None else ratio / (1.0 - objective)


def max_burn_rate(objective: float) -> float:
    """The burn rate of a total outage."""
    return 1.0 / (1.0 - objective)


def page_can_fire(objective: float, period: timedelta) -> bool:
    """False when even a total outage never reaches the fastest page tier's threshold."""
    return max_burn_rate(objective) >= TIERS[0].threshold(period)


def detection_time(tier: Tier, objective: float, period: timedelta) -> timedelta | None:
    """How long a total outage takes to fire the tier (its long window is the slower one)."""
    burn = max_burn_rate(objective)
    threshold = tier.threshold(period)
    if burn < threshold:
        return None
    return tier.long * (threshold / burn)


@dataclass(frozen=True)
class TierResult:
    tier: str
    severity: str  # after the min-events guard
    threshold: float
    long_burn: float
    short_burn: float
    firing: bool
    inhibited: bool = False  # a faster tier of the same SLO and scope fires
    downgraded: bool = False  # a page turned into a ticket by the min-events guard
    coverage: float = 1.0  # the share of the long window the history covers (burns above are scaled by it)

    @property
    def notifies(self) -> bool:
        return self.firing and not self.inhibited


@dataclass(frozen=True)
class Evaluation:
    tiers: list[TierResult] = field(default_factory=list)
    budget_remaining: float | None = None  # share of the period's budget left (negative: overspent)
    exhaustion: timedelta | None = None  # at the current (1 h) burn rate; None if not burning

    def firing(self, severity: str | None = None) -> list[TierResult]:
        return [t for t in self.tiers if t.notifies and (severity is None or t.severity == severity)]


def coverage(window: timedelta, history: timedelta | None) -> float:
    """The share of ``window`` that ``history`` (how far back data goes; None: far enough) covers."""
    if history is None or history >= window:
        return 1.0
    return max(0.0, history / window)


def evaluate(windows: dict[timedelta, Counts], period_counts: Counts, objective: float, period: timedelta,
             min_events: float = 0, history: timedelta | None = None) -> Evaluation:
    """Evaluate every tier from window sums (keys: WINDOWS) and the whole period's counts.

    ``history``: how far back the data goes (None when it covers every window)."""
    results: list[TierResult] = []
    inhibiting = False
    for tier in TIERS:
        threshold = tier.threshold(period)
        long_counts = windows.get(tier.long, Counts())
        covered = coverage(tier.long, history)
        long_burn = burn_rate(long_counts, objective) * covered
        short_burn = burn_rate(windows.get(tier.short, Counts()), objective) * coverage(tier.short, history)
        firing = long_burn > threshold and short_burn > threshold
        downgraded = tier.severity == PAGE and long_counts.total < min_events
        results.append(TierResult(tier.name, TICKET if downgraded else tier.severity, threshold, long_burn,
                                  short_burn, firing, inhibited=inhibiting and firing, downgraded=downgraded,
                                  coverage=covered))
        inhibiting = inhibiting or firing
    remaining = budget_remaining(period_counts, objective)
    hour_burn = burn_rate(windows.get(timedelta(hours=1), Counts()), objective)
    return Evaluation(results, remaining, time_to_exhaustion(remaining, hour_burn, period))


def budget_remaining(period_counts: Counts, objective: float) -> float | None:
    if period_counts.total <= 0:
        return None
    allowed = (1.0 - objective) * period_counts.total
    return 1.0 - period_counts.bad / allowed


def time_to_exhaustion(remaining: float | None, burn: float, period: timedelta) -> timedelta | None:
    """At burn rate 1 the whole budget lasts exactly one period."""
    if remaining is None or burn <= 0:
        return None
    if remaining <= 0:
        return timedelta(0)
    return period * (remaining / burn)


def slide(sums: dict[timedelta, Counts], added: Counts, expired: dict[timedelta, Counts]) -> dict[timedelta, Counts]:
    """Move every window forward: add the new minutes, subtract the minutes that left each window.

    This keeps each cycle's cost proportional to the new minutes, whatever the window length.
    """
    return {window: sums.get(window, Counts()) + added - expired.get(window, Counts()) for window in
            set(sums) | set(expired) | set(WINDOWS)}
