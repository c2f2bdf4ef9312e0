import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from observatory.analytics.anomaly import ALERT_THRESHOLD, DetectorBank, score_series
from observatory.analytics.anomaly.forest import ForestBank

# Synthetic series (deterministic).
START = 1_700_000_000 - 1_700_000_000 % 86400  # a UTC midnight


def times(n: int, step: int = 300) -> np.ndarray:
    return START + step * np.arange(n, dtype=np.float64)


def noisy(n: int, level: float = 10.0, noise: float = 1.0, seed: int = 0) -> np.ndarray:
    return level + noise * np.random.default_rng(seed).normal(size=n)


def daily_square(n: int, step: int, noise: float = 1.0, seed: int = 0) -> np.ndarray:
    """20 at night, 80 from 06:00 to 18:00, plus noise: a strong daily pattern."""
    hour = (times(n, step) % 86400) / 3600
    return np.where((hour >= 6) & (hour < 18), 80.0, 20.0) + noisy(n, 0.0, noise, seed)


WARM = 200  # past the first two fits


def alarms(scores, start=WARM):
    return np.flatnonzero(scores[start:] >= ALERT_THRESHOLD) + start


def test_scores_are_in_unit_interval_and_zero_before_the_first_fit():
    x = noisy(700)
    x[400] += 50
    scores = score_series(times(700), x)
    assert np.all((scores >= 0) & (scores <= 1))
    assert np.all(scores[:100] == 0)


@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_a_spike_scores_high_after_warm_up_and_quiet_data_does_not(noise):
    x = noisy(700, noise=noise, seed=1)
    x[500] += 30 if noise else 5
    scores = score_series(times(700), x)
    assert scores[500] >= ALERT_THRESHOLD
    assert list(alarms(scores)) == [500]


def test_a_level_shift_raises_one_alarm_at_its_start():
    x = noisy(900, seed=2)
    x[600:] += 12
    scores = score_series(times(900), x)
    after = [a for a in alarms(scores) if a >= 600]
    assert 600 <= after[0] <= 605
    assert all(a - after[0] > 100 for a in after[1:])  # the new level is not re-alarmed at once


def test_one_alarm_per_incident():
    x = noisy(900, seed=3)
    x[500:540] += 25  # one sustained incident
    scores = score_series(times(900), x)
    in_incident = [a for a in alarms(scores) if 500 <= a < 640]
    assert len(in_incident) == 1
    assert scores[500:640].max() >= ALERT_THRESHOLD


def test_daily_pattern_is_learnt_and_a_missing_day_phase_is_flagged():
    step = 900  # 96 points a day: 7 days in 672 points
    n = 7 * 96
    clean = score_series(times(n, step), daily_square(n, step, noise=0.0))
    assert len(alarms(clean)) == 0  # the daily jumps recur: they are not anomalies
    x = daily_square(n, step, seed=4)
    noisy_scores = score_series(times(n, step), x)
    hour = (times(n, step) % 86400) / 3600
    jumps = np.flatnonzero(np.isin(hour, (6.0, 18.0)))
    assert noisy_scores[jumps[jumps >= 2 * 96]].max() < ALERT_THRESHOLD
    broken = x.copy()
    day6 = slice(5 * 96 + 24, 5 * 96 + 72)  # day 6 stays at its night level
    broken[day6] = 20.0 + noisy(48, 0.0, 1.0, seed=5)
    found = alarms(score_series(times(n, step), broken), start=day6.start - 1)
    assert len(found) >= 1 and found[0] < day6.start + 4


def test_same_spike_in_every_peer_lowers_the_regional_score():
    n = 700
    own = noisy(n, seed=6)
    peers = np.stack([noisy(n, seed=s) for s in (7, 8, 9)], axis=1)
    own[500] += 30
    regional = score_series(times(n), own, peers=peers)
    global_peers = peers.copy()
    global_peers[500] += 30
    shared, explanations = score_series(times(n), own, peers=global_peers, explain=True)
    assert regional[500] >= ALERT_THRESHOLD
    assert shared[500] < 0.5 * regional[500] and shared[500] < ALERT_THRESHOLD
    peer = explanations[500].peers
    assert peer.n_peers == 3 and peer.regional_share < 0.3


@pytest.mark.parametrize("n_regions", [2, 3, 5])
def test_a_spike_in_one_region_flags_that_region_only(n_regions):
    """Every region is scored against the others; only the spiking one may alarm."""
    n = 700
    values = np.stack([noisy(n, level=100, noise=3, seed=20 + r) for r in range(n_regions)], axis=1)
    values[500, 0] += 60
    bank = DetectorBank(n_regions)
    scores = np.zeros((n, n_regions))
    for j in range(n):
        peers = np.stack([np.delete(values[j], r) for r in range(n_regions)])
        scores[j] = bank.update(np.full(n_regions, times(n)[j]), values[j], peers)
    assert scores[500, 0] >= ALERT_THRESHOLD
    # The healthy regions' scores do not rise with their peer's spike (compare: the same data without it).
    calm = values.copy()
    calm[500, 0] -= 60
    bank = DetectorBank(n_regions)
    for j in range(501):
        peers = np.stack([np.delete(calm[j], r) for r in range(n_regions)])
        baseline = bank.update(np.full(n_regions, times(n)[j]), calm[j], peers)
    assert (scores[500, 1:] < ALERT_THRESHOLD).all()
    if n_regions >= 3:  # with two regions the comparison is symmetric: only their own history tells them apart
        assert (scores[500, 1:] <= baseline[1:] + 0.1).all()


def test_explanation_names_the_features_that_drove_the_score():
    x = noisy(700, seed=10)
    x[500] += 30
    scores, explanations = score_series(times(700), x, explain=True)
    why = explanations[500]
    assert why.score == pytest.approx(scores[500])
    assert why.drivers[0] in ("value", "seasonal_day", "recent_mean")
    value = next(f for f in why.features if f.name == "value")
    assert value.z > 10 and value.excess > 0
    assert why.peers is None and "score" in why.summary()


def test_bank_of_many_series_equals_each_series_alone():
    n, k = 500, 3
    xs = [noisy(n, level=10 * (s + 1), seed=20 + s) for s in range(k)]
    xs[1][300] += 40
    bank = DetectorBank(k)
    together = np.stack([bank.update(np.full(k, t), [x[j] for x in xs]) for j, t in enumerate(times(n))])
    for s in range(k):
        np.testing.assert_array_equal(together[:, s], score_series(times(n), xs[s]))


def test_packed_forest_scores_exactly_like_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 5))
    columns = np.array([0, 2, 3])
    bank = ForestBank(2, n_trees=25, max_samples=128)
    bank.fit(1, X, columns, seed=7)
    model = IsolationForest(n_estimators=25, max_samples=128, random_state=7).fit(X[:, columns].astype(np.float32))
    Y = 3 * rng.normal(size=(300, 5))
    np.testing.assert_allclose(bank.score_one(1, Y), -model.score_samples(Y[:, columns]), atol=1e-6)


def test_separate_refit_calls_give_the_same_scores_as_inline_refits():
    rng = np.random.default_rng(3)
    n = 400
    t = 1_700_000_000 + 60.0 * np.arange(n)
    x = rng.normal(10, 1, (n, 2))
    x[350, 1] += 12
    inline, split = DetectorBank(2), DetectorBank(2)
    versions = []
    for j in range(n):
        a = inline.update(np.full(2, t[j]), x[j])
        split.refit_due()
        b = split.update(np.full(2, t[j]), x[j], refit=False)
        np.testing.assert_array_equal(a, b)
        versions.append(split.model_version.copy())
    # first fit after 100 points, then at 200, then every 250 (450, ...)
    assert list(versions[-1]) == [2, 2] and list(versions[199]) == [1, 1] and list(versions[200]) == [2, 2]
    assert split.refit_due() == 0


def test_seasonal_residual_excess_counts_at_its_weight_and_a_value_spike_at_full_weight():
    import dataclasses

    from observatory.analytics.anomaly import DEFAULT_PARAMS

    step = 900
    n = 8 * 96
    x = daily_square(n, step, seed=12)
    noon = 5 * 96 + 48
    spike = noon + 130  # past the suppression after any alarm at noon
    x[noon] = 20.0  # night level at noon: inside the value's range, far outside the residual's
    x[spike] = 200.0  # far above the value's range
    t = times(n, step)
    full = dataclasses.replace(DEFAULT_PARAMS, seasonal_excess_weight=1.0)
    weighted, why = score_series(t, x, explain=True)
    unweighted, why_full = score_series(t, x, params=full, explain=True)
    excess = {f.name: f.excess for f in why[noon].features}
    assert excess["seasonal_day"] > 1 and excess["value"] == 0
    assert why[noon].magnitude == pytest.approx(DEFAULT_PARAMS.seasonal_excess_weight * excess["seasonal_day"])
    assert why_full[noon].magnitude == pytest.approx(excess["seasonal_day"])
    assert weighted[noon] < unweighted[noon]
    value_excess = {f.name: f.excess for f in why[spike].features}["value"]
    assert value_excess > 1 and why[spike].magnitude >= value_excess  # the value counts in full
    assert weighted[spike] >= ALERT_THRESHOLD


def test_with_peers_the_deviation_from_them_caps_the_magnitude():
    n = 700
    rng = np.random.default_rng(30)
    own = 10 + rng.normal(size=n)
    peers = 10 + 3 * rng.normal(size=(n, 2))  # noisy peers: a wide usual distance from them
    own[500] = own[:500].max() + 1.0  # just past its own range, not far from its usual distance to peers
    alone, why_alone = score_series(times(n), own, explain=True)
    regional, why = score_series(times(n), own, peers=peers, explain=True)
    excess = {f.name: f.excess for f in why[500].features}
    assert excess["value"] > excess["peer_deviation"] and why[500].peers.regional_share > 0.9
    assert why_alone[500].magnitude == pytest.approx(excess["value"])
    assert why[500].magnitude == pytest.approx(excess["peer_deviation"])
    assert regional[500] < alone[500]
    own[500] += 40  # a real regional spike leaves both ranges and still alarms
    spiked, why_spike = score_series(times(n), own, peers=peers, explain=True)
    assert spiked[500] >= ALERT_THRESHOLD and why_spike[500].magnitude > 10
