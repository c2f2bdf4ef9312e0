from datetime import timedelta

import pytest

from observatory.analytics.slo import (
    PAGE, TICKET, TIERS, WINDOWS, Counts, aggregate, budget_remaining, burn_rate, coverage, detection_time, evaluate,
    max_burn_rate, page_can_fire, slide, time_to_exhaustion,
)

DAYS30 = timedelta(days=30)
H = timedelta(hours=1)


def test_workbook_threshold_table_at_30_days():
    assert [(t.name, t.long, t.short, t.severity) for t in TIERS] == [
        ("1h", H, timedelta(minutes=5), PAGE), ("6h", 6 * H, timedelta(minutes=30), PAGE),
        ("1d", 24 * H, 2 * H, TICKET), ("3d", 72 * H, 6 * H, TICKET)]
    assert [round(t.threshold(DAYS30), 6) for t in TIERS] == [14.4, 6.0, 3.0, 1.0]


def test_thresholds_follow_the_period():
    assert [round(t.threshold(timedelta(days=28)), 4) for t in TIERS] == [13.44, 5.6, 2.8, 0.9333]


def test_windows_cover_every_tier():
    assert WINDOWS == (timedelta(minutes=5), timedelta(minutes=30), H, 2 * H, 6 * H, 24 * H, 72 * H)


def test_burn_rate():
    assert burn_rate(Counts(good=999, total=1000), 0.999) == pytest.approx(1.0)
    assert burn_rate(Counts(good=980, total=1000), 0.999) == pytest.approx(20.0)
    assert burn_rate(Counts(), 0.999) == 0.0
    assert max_burn_rate(0.999) == pytest.approx(1000)


def test_page_tier_must_be_able_to_fire():
    assert page_can_fire(0.999, DAYS30)
    assert page_can_fire(0.95, DAYS30)  # 1/(1-0.95) = 20 >= 14.4
    assert not page_can_fire(0.9, DAYS30)  # 10 < 14.4: a total outage never pages


def test_detection_times_for_a_total_outage():
    # 99.9%: burn 1000; 1h tier fires after 14.4/1000 of an hour = 51.84 s.
    assert detection_time(TIERS[0], 0.999, DAYS30).total_seconds() == pytest.approx(51.84)
    assert detection_time(TIERS[1], 0.999, DAYS30).total_seconds() == pytest.approx(6 * 3600 * 6 / 1000)
    # 95%: burn 20; 1h tier fires after 14.4/20 h = 43.2 min.
    assert detection_time(TIERS[0], 0.95, DAYS30) == timedelta(minutes=43.2)
    assert detection_time(TIERS[0], 0.9, DAYS30) is None


def windows_at(ratio_by_window: dict, total: float = 10_000) -> dict:
    return {w: Counts(good=total * (1 - ratio_by_window.get(w, 0.0)), total=total) for w in WINDOWS}


def test_both_windows_must_exceed_the_threshold():
    # 2% errors at 99.9% = burn 20 in the 1h window, but the 5m window has recovered.
    windows = windows_at({H: 0.02, timedelta(minutes=5): 0.0})
    result = evaluate(windows, Counts(1e6, 1e6), 0.999, DAYS30)
    assert not result.tiers[0].firing
    windows = windows_at({H: 0.02, timedelta(minutes=5): 0.02})
    result = evaluate(windows, Counts(1e6, 1e6), 0.999, DAYS30)
    assert result.tiers[0].firing and result.tiers[0].severity == PAGE


def test_threshold_must_be_exceeded_not_met():
    windows = windows_at({H: 0.0144, timedelta(minutes=5): 0.0144})
    assert not evaluate(windows, Counts(1, 1), 0.999, DAYS30).tiers[0].firing


def test_min_events_guard_downgrades_pages_to_tickets():
    windows = {w: Counts(good=5, total=10) for w in WINDOWS}  # 50% errors, but 10 events
    result = evaluate(windows, Counts(5, 10), 0.999, DAYS30, min_events=100)
    assert [t.severity for t in result.tiers] == [TICKET, TICKET, TICKET, TICKET]
    assert [t.downgraded for t in result.tiers] == [True, True, False, False]
    assert result.firing(PAGE) == []
    busy = evaluate({w: Counts(good=500, total=1000) for w in WINDOWS}, Counts(500, 1000), 0.999, DAYS30,
                    min_events=100)
    assert [t.severity for t in busy.firing()] == [PAGE]


def test_fast_tier_inhibits_slower_tiers():
    windows = windows_at({w: 0.5 for w in WINDOWS})
    result = evaluate(windows, Counts(5000, 10000), 0.999, DAYS30)
    assert [t.firing for t in result.tiers] == [True, True, True, True]
    assert [t.inhibited for t in result.tiers] == [False, True, True, True]
    assert [t.tier for t in result.firing()] == ["1h"]


def test_slow_burn_only_tickets():
    # 0.4% errors at 99.9%: burn 4 - over the 1d (3x) and 3d (1x) thresholds, under the pages.
    windows = windows_at({w: 0.004 for w in WINDOWS})
    result = evaluate(windows, Counts(1e6, 1e6), 0.999, DAYS30)
    assert [t.tier for t in result.tiers if t.firing] == ["1d", "3d"]
    assert [(t.tier, t.severity) for t in result.firing()] == [("1d", TICKET)]


def test_global_aggregation_sums_counts_across_unequal_traffic():
    big = Counts(good=99_000, total=100_000)  # 1% errors
    small = Counts(good=50, total=100)  # 50% errors
    total = aggregate([big, small])
    assert total == Counts(99_050, 100_100)
    assert total.error_ratio() == pytest.approx(1050 / 100_100)  # ~1.05%, not the 25.5% average of ratios
    assert burn_rate(total, 0.99) == pytest.approx(1.049, rel=1e-3)


def test_budget_remaining_and_time_to_exhaustion():
    period = Counts(good=999_500, total=1_000_000)  # 500 bad of 1000 allowed
    assert budget_remaining(period, 0.999) == pytest.approx(0.5)
    assert budget_remaining(Counts(good=997_000, total=1_000_000), 0.999) == pytest.approx(-2.0)
    assert budget_remaining(Counts(), 0.999) is None
    # Half the budget left, burning at 10x: gone in 0.5 * 30 days / 10 = 36 h.
    assert time_to_exhaustion(0.5, 10.0, DAYS30) == timedelta(hours=36)
    assert time_to_exhaustion(0.5, 0.0, DAYS30) is None
    assert time_to_exhaustion(-1.0, 5.0, DAYS30) == timedelta(0)
    windows = windows_at({H: 0.01})
    result = evaluate(windows, period, 0.999, DAYS30)
    assert result.budget_remaining == pytest.approx(0.5)
    assert result.exhaustion == timedelta(hours=36)


def test_slide_adds_new_minutes_and_drops_expired_ones():
    sums = {w: Counts(100, 110) for w in WINDOWS}
    moved = slide(sums, Counts(10, 12), {H: Counts(8, 9)})
    assert moved[H] == Counts(102, 113)
    assert moved[timedelta(minutes=5)] == Counts(110, 122)
    assert slide({}, Counts(1, 1), {})[24 * H] == Counts(1, 1)


def burst_on_history(history: timedelta, burst: timedelta, ratio: float, per_minute: float = 1000) -> dict:
    """Window sums when data goes back ``history`` at a steady rate, errors only in the last ``burst``."""
    sums = {}
    for window in WINDOWS:
        seen = min(window, history) / timedelta(minutes=1) * per_minute
        bad = min(window, burst) / timedelta(minutes=1) * per_minute * ratio
        sums[window] = Counts(good=seen - bad, total=seen)
    return sums


def test_coverage_is_the_covered_share_of_a_window():
    assert coverage(H, None) == 1.0
    assert coverage(H, 2 * H) == 1.0 and coverage(H, H) == 1.0
    assert coverage(72 * H, 6 * H) == pytest.approx(1 / 12)
    assert coverage(H, timedelta(0)) == 0.0


def test_a_short_burst_on_short_history_is_not_a_multi_day_burn():
    # 150 minutes of data, the last 10 at 5% errors (99.9%): unscaled, the 1d and 3d windows hold only those
    # 150 minutes and "burn" 3.3x, over both ticket thresholds. Spread over the budget, it is 0.1x and 0.3x.
    sums = burst_on_history(timedelta(minutes=150), timedelta(minutes=10), 0.05)
    unscaled = evaluate(sums, sums[72 * H], 0.999, DAYS30)
    assert [t.tier for t in unscaled.tiers if t.firing] == ["1d", "3d"]
    result = evaluate(sums, sums[72 * H], 0.999, DAYS30, history=timedelta(minutes=150))
    assert [t.tier for t in result.tiers if t.firing] == []
    assert [round(t.coverage, 4) for t in result.tiers] == [1.0, round(150 / 360, 4), round(150 / 1440, 4),
                                                            round(150 / 4320, 4)]


def test_full_history_evaluates_as_before():
    sums = windows_at({w: 0.004 for w in WINDOWS})
    assert evaluate(sums, Counts(1e6, 1e6), 0.999, DAYS30, history=72 * H) == evaluate(
        sums, Counts(1e6, 1e6), 0.999, DAYS30)


@pytest.mark.parametrize("minutes", [2, 3, 10, 30])
def test_a_total_outage_pages_even_on_minutes_of_history(minutes):
    sums = burst_on_history(timedelta(minutes=minutes), timedelta(minutes=minutes), 1.0)
    result = evaluate(sums, sums[72 * H], 0.999, DAYS30, history=timedelta(minutes=minutes))
    assert [(t.tier, t.severity) for t in result.firing()] == [("1h", PAGE)]


@pytest.mark.parametrize("spent, fires", [(0.09, False), (0.11, True)])
def test_a_scaled_tier_fires_when_its_share_of_the_budget_is_spent(spent, fires):
    """Scaled by coverage, the 3d tier (10% of the budget) fires exactly when the errors seen in 12 hours
    spend more than 10% of the period's budget, its traffic estimated from the rate seen."""
    history, rate = timedelta(hours=12), 1000
    budget = 0.001 * rate * (DAYS30 / timedelta(minutes=1))
    bad = spent * budget  # spread evenly over the 12 hours
    sums = {}
    for window in WINDOWS:
        share = min(window, history) / history
        sums[window] = Counts(good=rate * (min(window, history) / timedelta(minutes=1)) - bad * share,
                              total=rate * (min(window, history) / timedelta(minutes=1)))
    third = evaluate(sums, sums[72 * H], 0.999, DAYS30, history=history).tiers[3]
    assert third.tier == "3d" and third.firing is fires
