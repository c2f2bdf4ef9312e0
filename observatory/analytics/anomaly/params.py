"""The detector's single parameter set (pure).

One set for every series, whatever its sampling rate: NAB's protocol forbids per-file
tuning, and production cannot tune per series either. Windows are counted in points,
seasonal look-ups in wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass

# Production alert threshold: a point alerts when its anomaly_score >= ALERT_THRESHOLD.
# It is the threshold nab_score.py picks for the standard profile on the NAB dev set
# (bench/nab.py prints it: 76.46 standard, 68.88 low-FP, 80.82 low-FN at this value).
# The suppression after an alarm uses the same level, and the scorer's pick is a fixed
# point of that: with suppression at 0.457263 it picks 0.457263 again. Scores are
# calibrated so that evidence == DetectorParams.evidence_half maps to 0.5.
ALERT_THRESHOLD = 0.457263


@dataclass(frozen=True)
class DetectorParams:
    # Seasonal look-ups: values are kept per time bucket; "same time yesterday" is the
    # mean of the buckets one day back (+-1 bucket, as sampling jitters).
    bucket_seconds: int = 300
    ring_buckets: int = 2048  # > 7 days of 5-minute buckets + 1, a power of two
    # Fast EWMA of the value: the "recent mean" (about the last 5 points).
    fast_alpha: float = 0.2
    # IsolationForest: first fit after `warmup` points, refits at 2x warmup and then
    # every `refit_every` points, always on the trailing `train_window` rows only.
    warmup: int = 100
    refit_every: int = 250
    train_window: int = 3000
    n_trees: int = 50
    max_samples: int = 128
    # Evidence = if_weight * mean(-log10 p_IF over `smooth` points)
    #          + excess_weight * log1p(how far beyond the training range, in spreads).
    # IF alone saturates for points outside the training range (any such point is as
    # isolated as the most extreme training point), so the range excess adds magnitude.
    smooth: int = 8
    if_weight: float = 0.6
    excess_weight: float = 3.0
    # The seasonal residual's range excess counts at this share of the value's: the
    # residual is the difference of two noisy points, so on spiky series (tweet counts)
    # it leaves its range far more often than the value does, mostly without an incident.
    seasonal_excess_weight: float = 0.25
    range_floor: float = 0.1  # spread >= this share of the training range (flat series)
    # anomaly_score = 1 - 2 ** (-evidence / evidence_half): 0.5 at evidence_half.
    evidence_half: float = 1.5
    # After an alarm, the next `suppress_points` scores are capped below the threshold.
    suppress_points: int = 100
    alert_threshold: float = ALERT_THRESHOLD


DEFAULT_PARAMS = DetectorParams()
