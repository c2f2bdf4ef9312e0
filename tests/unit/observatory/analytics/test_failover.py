from datetime import datetime, timedelta, timezone

import pytest

from observatory.analytics.failover import (
    ADVISE, APPROVE, AUTO, AWAIT_APPROVAL, DISPATCH, DRY_RUN, NO_ACTION, Policy, RegionView, assess_failover,
    choose_target,
)
from observatory.analytics.health import HEALTHY, SUSPECT, UNHEALTHY

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def policy(mode=AUTO, **kw):
    return Policy(group="storefront", mode=mode, candidates=("eu-west-1", "ap-south-1"), **kw)


def world(source_state=UNHEALTHY, kinds=("probe", "telemetry"), west=HEALTHY, south=HEALTHY, west_lag=2.0,
          west_lag_state="ok"):
    return {
        "us-east-1": RegionView("us-east-1", True, source_state, kinds),
        "eu-west-1": RegionView("eu-west-1", False, west, (), west_lag, west_lag_state),
        "ap-south-1": RegionView("ap-south-1", False, south, (), 1.0, "ok"),
    }


def assess(regions=None, mode=AUTO, last=None, fresh=True, accept=False, **policy_kw):
    return assess_failover(policy(mode, **policy_kw), regions or world(), "us-east-1", NOW, last, fresh, accept)


def failed(assessment):
    return [g.name for g in assessment.gates if not g.passed]


def test_outage_with_healthy_target_within_rpo_dispatches_automatically():
    result = assess()
    assert (result.outcome, result.target, failed(result)) == (DISPATCH, "eu-west-1", [])
    assert result.data_loss_seconds == 2.0
    assert [g.name for g in result.gates] == ["source_unhealthy", "target_healthy", "target_within_rpo",
                                              "leaves_active_region", "cooldown", "central_data_fresh",
                                              "not_global_incident", "mode"]


def test_single_kind_of_evidence_is_not_enough():
    result = assess(world(kinds=("probe",)))
    assert result.outcome == NO_ACTION and failed(result) == ["source_unhealthy"]
    assert "needs UNHEALTHY and at least 2 kinds" in result.gate("source_unhealthy").detail


def test_suspect_or_unknown_source_never_fails_over():
    assert assess(world(source_state=SUSPECT)).outcome == NO_ACTION
    assert assess(world(source_state="unknown", kinds=("telemetry",))).outcome == NO_ACTION


def test_target_is_the_first_healthy_candidate_in_order():
    regions = world(west=SUSPECT)
    assert choose_target(policy(), regions, "us-east-1").name == "ap-south-1"
    assert assess(regions).target == "ap-south-1"


def test_no_healthy_target_blocks():
    result = assess(world(west=UNHEALTHY, south=SUSPECT))
    assert result.outcome == NO_ACTION and "target_healthy" in failed(result)
    assert "no healthy candidate among eu-west-1, ap-south-1" in result.gate("target_healthy").detail


def test_target_lag_beyond_rpo_needs_a_human_even_in_auto_mode():
    result = assess(world(west_lag=90.0, west_lag_state="over_rpo"), rpo_seconds=30)
    assert result.outcome == AWAIT_APPROVAL and failed(result) == ["target_within_rpo"]
    assert "lags 90s, beyond RPO 30s" in result.gate("target_within_rpo").detail
    accepted = assess(world(west_lag=90.0, west_lag_state="over_rpo"), rpo_seconds=30, accept=True)
    assert accepted.outcome == DISPATCH
    assert "data loss accepted by an operator" in accepted.gate("target_within_rpo").detail


def test_unknown_lag_is_not_assumed_safe():
    result = assess(world(west_lag=None, west_lag_state="unknown"))
    assert result.outcome == AWAIT_APPROVAL
    assert "data at risk unknown" in result.gate("target_within_rpo").detail


def test_cooldown_is_honoured():
    recent = assess(last=NOW - timedelta(minutes=10), cooldown_seconds=3600)
    assert recent.outcome == NO_ACTION and failed(recent) == ["cooldown"]
    assert "until 2026-11-22T12:50:00Z" in recent.gate("cooldown").detail
    assert assess(last=NOW - timedelta(hours=2), cooldown_seconds=3600).outcome == DISPATCH


def test_stale_central_data_blocks():
    result = assess(fresh=False)
    assert result.outcome == NO_ACTION and failed(result) == ["central_data_fresh"]


def test_global_incident_vetoes_failover():
    result = assess(world(west=SUSPECT, south=UNHEALTHY))
    assert result.outcome == NO_ACTION
    assert set(failed(result)) == {"target_healthy", "target_within_rpo", "leaves_active_region", "not_global_incident"}
    assert "global incident" in result.gate("not_global_incident").detail


def test_modes():
    assert assess(mode=APPROVE).outcome == AWAIT_APPROVAL
    dry = assess(mode=ADVISE)
    assert dry.outcome == DRY_RUN and failed(dry) == ["mode"]


@pytest.mark.parametrize("mode", [AUTO, APPROVE, ADVISE])
def test_closed_hard_gate_means_no_action_in_every_mode(mode):
    assert assess(world(kinds=("probe",)), mode=mode).outcome == NO_ACTION
