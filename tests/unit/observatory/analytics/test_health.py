import pytest

from observatory.analytics.health import (
    BACKLOG, BREAKERS, HEALTHY, PARTITION, PROBE, RECOVERING, SLO, SUSPECT, TELEMETRY, UNHEALTHY, UNKNOWN,
    HealthInputs, HealthState, ProbeStreak, evaluate_health, partition_evidence, recovery_threshold,
)


def inputs(probe=ProbeStreak(0, 5), age=5.0, **signals):
    return HealthInputs(probe=probe, failure_threshold=3, telemetry_age_seconds=age, stale_after_seconds=60, **signals)


def run(states, *steps):
    """Feed a sequence of inputs, returning every resulting state."""
    state, seen = states, []
    for step in steps:
        result = evaluate_health(state, step)
        state = HealthState(result.state, result.clean_streak)
        seen.append(result.state)
    return seen


def test_probe_streak_counts_consecutive_outcomes():
    streak = ProbeStreak()
    for ok in (False, False, True, True, False):
        streak = streak.record(ok)
    assert streak == ProbeStreak(failures=1, successes=0)
    assert ProbeStreak(2, 0).record(True) == ProbeStreak(0, 1)


def test_recovery_needs_more_successes_than_failure_needed():
    assert recovery_threshold(3) == 4
    assert recovery_threshold(1) == 2


def test_all_clear_is_healthy_from_any_starting_state():
    for start in (UNKNOWN, SUSPECT, HEALTHY):
        assert evaluate_health(HealthState(start), inputs()).state == HEALTHY


def test_probe_failures_go_suspect_then_unhealthy_at_the_threshold():
    steps = [inputs(probe=ProbeStreak(n, 0)) for n in (1, 2, 3)]
    assert run(HealthState(HEALTHY), *steps) == [SUSPECT, SUSPECT, UNHEALTHY]


def test_probe_alone_is_unhealthy_but_not_failover_grade():
    result = evaluate_health(HealthState(HEALTHY), inputs(probe=ProbeStreak(3, 0)))
    assert result.state == UNHEALTHY and result.kinds == (PROBE,)
    assert not result.failover_grade


def test_outage_probe_and_telemetry_together_are_failover_grade():
    result = evaluate_health(HealthState(SUSPECT), inputs(probe=ProbeStreak(3, 0), age=300))
    assert result.kinds == (PROBE, TELEMETRY)
    assert result.failover_grade
    assert result.evidence["probe"]["failures"] == 3 and result.evidence["telemetry_age_seconds"] == 300


def test_stale_telemetry_alone_is_unknown_never_unhealthy():
    result = evaluate_health(HealthState(HEALTHY), inputs(age=600))
    assert result.state == UNKNOWN and not result.failover_grade
    assert evaluate_health(HealthState(HEALTHY), inputs(probe=None, age=None)).state == UNKNOWN


def test_two_kinds_of_passive_evidence_are_unhealthy():
    result = evaluate_health(HealthState(HEALTHY), inputs(open_breakers=("payments",), partitioned_peers=("eu-west-1",)))
    assert result.state == UNHEALTHY and result.kinds == (BREAKERS, PARTITION) and result.failover_grade
    assert result.evidence["open_breakers"] == ["payments"]


def test_one_kind_of_passive_evidence_is_suspect():
    for signals in ({"open_breakers": ("db",)}, {"backlogged_queues": ("orders",)}, {"slo_fast_burn": ("checkout",)}):
        assert evaluate_health(HealthState(HEALTHY), inputs(**signals)).state == SUSPECT


def test_stale_telemetry_corroborates_other_evidence():
    result = evaluate_health(HealthState(HEALTHY), inputs(age=600, backlogged_queues=("orders",)))
    assert result.state == UNHEALTHY and result.kinds == (TELEMETRY, BACKLOG)


def test_recovery_with_hysteresis():
    down = HealthState(UNHEALTHY)
    # Failure needed 3 failures; recovery needs 4 successes in a row.
    steps = [inputs(probe=ProbeStreak(0, n)) for n in (1, 2, 3, 4)]
    assert run(down, *steps) == [RECOVERING, RECOVERING, RECOVERING, HEALTHY]


def test_a_failure_while_recovering_starts_over():
    steps = [inputs(probe=ProbeStreak(0, 2)), inputs(probe=ProbeStreak(1, 0)), inputs(probe=ProbeStreak(0, 1)),
             inputs(probe=ProbeStreak(0, 4))]
    assert run(HealthState(UNHEALTHY), *steps) == [RECOVERING, RECOVERING, RECOVERING, HEALTHY]


def test_flapping_probe_never_reaches_unhealthy():
    streak, seen = ProbeStreak(), []
    state = HealthState(HEALTHY)
    for ok in [False, False, True] * 10:
        streak = streak.record(ok)
        result = evaluate_health(state, inputs(probe=streak))
        state = HealthState(result.state, result.clean_streak)
        seen.append(result.state)
    assert UNHEALTHY not in seen and set(seen) == {SUSPECT, HEALTHY}


def test_without_a_probe_recovery_counts_clean_evaluations():
    steps = [inputs(probe=None)] * 4
    assert run(HealthState(UNHEALTHY), *steps) == [RECOVERING, RECOVERING, RECOVERING, HEALTHY]


def test_stale_telemetry_holds_recovery_back():
    steps = [inputs(probe=ProbeStreak(0, 5), age=600), inputs(probe=ProbeStreak(0, 6), age=600)]
    assert run(HealthState(UNHEALTHY), *steps) == [RECOVERING, RECOVERING]
    assert run(HealthState(RECOVERING), inputs(probe=ProbeStreak(0, 6))) == [HEALTHY]


@pytest.mark.parametrize("start", [HEALTHY, SUSPECT, RECOVERING, UNKNOWN])
def test_slo_burn_with_breakers_is_unhealthy_from_anywhere(start):
    result = evaluate_health(HealthState(start), inputs(open_breakers=("db",), slo_fast_burn=("checkout-availability",)))
    assert result.state == UNHEALTHY and result.kinds == (BREAKERS, SLO)


THREE = ["us-east-1", "eu-west-1", "ap-south-1"]


def test_partition_evidence_points_at_the_region_its_peers_lost():
    reports = [("eu-west-1", "us-east-1"), ("ap-south-1", "us-east-1")]
    assert partition_evidence("us-east-1", THREE, reports) == ("unreachable from ap-south-1",
                                                               "unreachable from eu-west-1")
    # The reporters are not to blame: the region they cannot reach is lost by most.
    assert partition_evidence("eu-west-1", THREE, reports) == ()
    assert partition_evidence("ap-south-1", THREE, reports) == ()


def test_one_broken_link_is_not_a_region_problem():
    reports = [("eu-west-1", "ap-south-1")]
    assert partition_evidence("ap-south-1", THREE, reports) == ()
    assert partition_evidence("eu-west-1", THREE, reports) == ()
    assert partition_evidence("us-east-1", THREE, reports) == ()


def test_a_region_that_cannot_reach_anyone_is_cut_off():
    reports = [("us-east-1", "eu-west-1"), ("us-east-1", "ap-south-1")]
    assert partition_evidence("us-east-1", THREE, reports) == ("cannot reach ap-south-1", "cannot reach eu-west-1")


def test_two_regions_cannot_tell_who_is_cut_off():
    assert partition_evidence("a", ["a", "b"], [("b", "a")]) == ("unreachable from b",)
    assert partition_evidence("b", ["a", "b"], [("b", "a")]) == ()  # a is lost by the only other region


def test_partition_evidence_edge_cases():
    assert partition_evidence("solo", ["solo"], [("solo", "x")]) == ()
    assert partition_evidence("a", ["a", "b"], []) == ()
    assert partition_evidence("a", ["a", "b"], [("a", "a")]) == ()
