from datetime import datetime, timedelta, timezone

from observatory.analytics.counters import Sample, cumulative_increase, delta_increase, is_reset

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
BOOT = T0 - timedelta(hours=1)


def at(seconds, value, start=BOOT):
    return Sample(T0 + timedelta(seconds=seconds), start, value)


def test_plain_increase_from_previous_sample():
    assert cumulative_increase(at(-10, 100), [at(10, 130), at(40, 160)], T0) == 60


def test_reset_by_lower_value_counts_the_new_value():
    # 100 -> 130, restart, 5 -> 25: increase 30 + 5 + 20
    restarted = T0 + timedelta(seconds=15)
    samples = [at(10, 130), at(20, 5, start=restarted), at(40, 25, start=restarted)]
    assert cumulative_increase(at(-10, 100), samples, T0) == 55


def test_reset_by_new_start_time_even_when_value_is_higher():
    restarted = T0 + timedelta(seconds=5)
    assert cumulative_increase(at(-10, 100), [at(10, 150, start=restarted)], T0) == 150


def test_no_previous_sample_and_old_start_anchors_only():
    assert cumulative_increase(None, [at(10, 1000), at(30, 1010)], T0) == 10


def test_no_previous_sample_and_start_inside_window_counts_in_full():
    start = T0 + timedelta(seconds=2)
    assert cumulative_increase(None, [at(10, 7, start=start), at(30, 9, start=start)], T0) == 9


def test_missing_start_times_fall_back_to_value_drops():
    assert is_reset(Sample(T0, None, 10), Sample(T0, None, 3))
    assert not is_reset(Sample(T0, None, 10), Sample(T0, None, 10))
    assert cumulative_increase(Sample(T0, None, 10), [Sample(T0, None, 3)], T0) == 3


def test_empty_window():
    assert cumulative_increase(at(-10, 100), [], T0) == 0
    assert delta_increase([]) == 0


def test_delta_sums_values():
    assert delta_increase([at(1, 2), at(2, 3.5)]) == 5.5
