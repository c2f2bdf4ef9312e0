"""Streaming anomaly detection for metric series (pure: numpy and scikit-learn only).

IsolationForest over trailing-window features (level, recent mean, seasonal residuals,
optional peer-region deviation), fitted per series on past data only, calibrated to a
[0, 1] score with robust range statistics; one alarm per incident. See detector.py.

    bank = DetectorBank(n_series)              # or score_series() for one whole series
    scores = bank.update(timestamps, values, peers=None)
    bank.explain(i).summary()

State layout (why 10,000 series fit one worker): every per-series quantity is a row of a
bank-wide array, so one ``update`` is a few dozen vectorised numpy operations whatever the
number of series. Each series keeps its own forest (50 trees of <= 255 nodes packed as
int8/float32/int16 arrays), its trailing 3,000 feature rows, the sorted training scores
and a 2,048-bucket seasonal ring: about 0.2 MB, so ~2 GB for 10,000 series. Forests are
refitted one series at a time (scikit-learn), 1 / refit_every of the series per tick once
their phases are staggered. Per-series models keep one series' quirks (scale, seasonality,
spikiness) out of another's. A shared model per shard would save memory but needs
features normalised to a common scale; on the NAB dev set such (EWMA z-score) features
scored ~55 against ~74 for the raw-unit features used here, which cannot be pooled.
"""

from .csvio import CsvFormatError, ParsedSeries, parse_series_csv
from .detector import FEATURES, DetectorBank, score_series
from .explain import Explanation, FeatureContribution, PeerComparison
from .params import ALERT_THRESHOLD, DEFAULT_PARAMS, DetectorParams

__all__ = [
    "ALERT_THRESHOLD",
    "CsvFormatError",
    "DEFAULT_PARAMS",
    "DetectorBank",
    "DetectorParams",
    "Explanation",
    "FEATURES",
    "FeatureContribution",
    "ParsedSeries",
    "PeerComparison",
    "parse_series_csv",
    "score_series",
]
