"""The score at time t depends only on points up to t: a truncated series scores as a prefix."""

from pathlib import Path

import numpy as np
import pytest

from observatory.analytics.anomaly import parse_series_csv, score_series

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


ROOT = Path(__file__).resolve().parents[5]
NAB_FILE = ROOT.parent / "shared" / "data" / "nab-dev" / "data" / "realAdExchange" / "exchange-2_cpc_results.csv"


def assert_prefix_property(t, x, cuts):
    full = score_series(t, x)
    for cut in cuts:
        np.testing.assert_array_equal(score_series(t[:cut], x[:cut]), full[:cut], err_msg=f"cut at {cut}")


def test_truncated_synthetic_series_scores_as_prefix():
    n, step = 800, 900
    x = daily_square(n, step, seed=11)
    x[420:440] += 40  # an incident, so alarms and suppression are exercised
    x[650] -= 60
    assert_prefix_property(times(n, step), x, cuts=[150, 201, 430, 651])


@pytest.mark.skipif(not NAB_FILE.exists(), reason="NAB dev data (shared/) not beside the repository")
def test_truncated_nab_file_scores_as_prefix():
    with open(NAB_FILE, newline="") as handle:
        series = parse_series_csv(handle)
    assert_prefix_property(series.timestamps, series.values, cuts=[250, 777, 1300])
