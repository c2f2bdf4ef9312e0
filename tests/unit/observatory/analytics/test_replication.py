from datetime import datetime, timedelta, timezone

import pytest

from observatory.analytics.replication import LagReport, assess_lag, percentile, slope

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
STALE = timedelta(seconds=60)


def reports(*pairs):
    """(seconds before now, lag) pairs."""
    return [LagReport(NOW - timedelta(seconds=ago), lag) for ago, lag in pairs]


def test_percentile_nearest_rank():
    assert percentile([5.0], 95) == 5.0
    assert percentile(list(map(float, range(1, 101))), 95) == 95.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([3.0, 1.0, 2.0], 100) == 3.0


def test_slope_by_least_squares():
    assert slope(reports((20, 10), (10, 20), (0, 30))) == pytest.approx(1.0)
    assert slope(reports((0, 5))) is None
    assert slope([LagReport(NOW, 1), LagReport(NOW, 2)]) is None


def test_steady_lag_within_rpo():
    status = assess_lag(reports((40, 2), (20, 2), (0, 2)), NOW, rpo_seconds=30, stale_after=STALE)
    assert (status.state, status.current_seconds, status.trend, status.within_rpo) == ("ok", 2, "steady", True)
    assert status.catch_up_seconds is None
    assert status.data_at_risk_seconds == 2


def test_rising_lag_over_rpo():
    status = assess_lag(reports((60, 10), (30, 25), (0, 40)), NOW, rpo_seconds=30, stale_after=STALE)
    assert (status.state, status.trend, status.within_rpo) == ("over_rpo", "rising", False)
    assert status.slope == pytest.approx(0.5)
    assert status.p95_seconds == 40


def test_falling_lag_estimates_catch_up():
    status = assess_lag(reports((20, 60), (10, 50), (0, 40)), NOW, rpo_seconds=30, stale_after=STALE)
    assert status.trend == "falling"
    assert status.catch_up_seconds == pytest.approx(40.0)  # 40 s behind, closing 1 s per second


def test_caught_up_replica():
    status = assess_lag(reports((10, 0), (0, 0)), NOW, rpo_seconds=0, stale_after=STALE)
    assert (status.state, status.catch_up_seconds, status.within_rpo) == ("ok", 0.0, True)


def test_p95_uses_only_the_last_five_minutes():
    old_spike = [(400, 500.0)]
    recent = [(s, 1.0) for s in range(0, 280, 10)]
    status = assess_lag(reports(*old_spike, *recent), NOW, rpo_seconds=30, stale_after=STALE)
    assert status.p95_seconds == 1.0


def test_stale_reports_grow_the_assumed_lag():
    status = assess_lag(reports((300, 5)), NOW, rpo_seconds=60, stale_after=STALE)
    assert status.state == "stale"
    assert status.current_seconds == 305
    assert status.within_rpo is False
    assert status.last_report_at == NOW - timedelta(seconds=300)


def test_no_reports_is_unknown_not_ok():
    status = assess_lag([], NOW, rpo_seconds=30, stale_after=STALE)
    assert (status.state, status.current_seconds, status.within_rpo) == ("unknown", None, None)


def test_future_reports_are_ignored():
    status = assess_lag(reports((-30, 99), (0, 3)), NOW, rpo_seconds=30, stale_after=STALE)
    assert status.current_seconds == 3
