"""Replication lag between a region and the peer it replicates from (pure).

Inputs are the lag reports (seconds behind) of one region pair; the result is
what an on-call engineer and the failover gates need: the current lag, p95 over
the last five minutes, the trend, when the replica will have caught up, whether
reports have stopped, and the data at risk if we failed over now (lag vs RPO).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

P95_WINDOW = timedelta(minutes=5)
TREND_WINDOW = timedelta(minutes=5)
FLAT_SLOPE = 0.01  # seconds of lag per second below which the lag counts as steady


@dataclass(frozen=True)
class LagReport:
    at: datetime
    lag_seconds: float


@dataclass(frozen=True)
class LagStatus:
    state: str  # "ok" | "over_rpo" | "stale" | "unknown"
    current_seconds: float | None
    p95_seconds: float | None
    trend: str  # "rising" | "falling" | "steady" | "unknown"
    slope: float | None  # change of lag per second
    catch_up_seconds: float | None  # None when not falling, or unknown
    rpo_seconds: int
    data_at_risk_seconds: float | None  # lag beyond which writes would be lost on failover now
    within_rpo: bool | None
    last_report_at: datetime | None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def slope(reports: list[LagReport]) -> float | None:
    """Least-squares slope of lag over time, seconds of lag per second; None with < 2 distinct times."""
    if len(reports) < 2:
        return None
    origin = reports[0].at
    xs = [(r.at - origin).total_seconds() for r in reports]
    ys = [r.lag_seconds for r in reports]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread


def assess_lag(reports: list[LagReport], now: datetime, rpo_seconds: int, stale_after: timedelta) -> LagStatus:
    """Assess one region pair from its reports (any order; only the past counts)."""
    past = sorted((r for r in reports if r.at <= now), key=lambda r: r.at)
    if not past:
        return LagStatus("unknown", None, None, "unknown", None, None, rpo_seconds, None, None, None)
    last = past[-1]
    recent = [r for r in past if r.at >= now - P95_WINDOW] or [last]
    trend_slope = slope([r for r in past if r.at >= now - TREND_WINDOW])
    if trend_slope is None:
        trend = "unknown"
    elif trend_slope > FLAT_SLOPE:
        trend = "rising"
    elif trend_slope < -FLAT_SLOPE:
        trend = "falling"
    else:
        trend = "steady"
    catch_up = last.lag_seconds / -trend_slope if trend == "falling" else (0.0 if last.lag_seconds == 0 else None)
    stale = now - last.at > stale_after
    # A stale report says how far behind the replica was; it can only be further behind now.
    current = last.lag_seconds + ((now - last.at).total_seconds() if stale else 0.0)
    within = current <= rpo_seconds
    state = "stale" if stale else ("ok" if within else "over_rpo")
    return LagStatus(state, current, percentile([r.lag_seconds for r in recent], 95), trend, trend_slope,
                     catch_up, rpo_seconds, max(0.0, current), within, last.at)
