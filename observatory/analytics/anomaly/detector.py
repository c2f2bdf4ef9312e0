"""Streaming, causal anomaly detector for many series at once (pure: numpy, scikit-learn).

A ``DetectorBank`` holds the state of S independent series in arrays; ``update`` takes one
new point for each of them (or for a subset) and returns their anomaly scores. A single
series is a bank of one, so NAB, detect_csv and the production job run the same code.

Per point:
  1. features: value, recent mean (fast EWMA), seasonal residuals (value minus the same
     time yesterday / last week, found by timestamp), and, when the caller passes peer
     regions' values for the same minute, the deviation from the peers' median;
  2. an IsolationForest over those features, fitted on this series' trailing rows only,
     gives an isolation score, turned into a p-value against the scores of its own
     training rows (so a pattern that recurs in the training window is not news);
  3. robust magnitude: how far the value / seasonal residual / peer deviation lies
     beyond the training window's range, in robust spreads (IF cannot tell "just past
     the range" from "ten times past it"); the seasonal residual's excess counts less,
     and with peers the deviation from them must leave its range too;
  4. evidence = weighted sum, times the share of the move not shared by peers, mapped
     to [0, 1]; after an alarm the next scores are capped below the alert threshold.
The score at time t uses only points up to t: models are refitted on past rows only, on
a schedule that depends only on the number of points seen.
"""

from __future__ import annotations

import numpy as np

from .explain import Explanation, explain_series
from .forest import ForestBank
from .params import DEFAULT_PARAMS, DetectorParams

# Global feature columns.
VALUE, RECENT_MEAN, SEASONAL_DAY, SEASONAL_WEEK, PEER_DEVIATION = range(5)
FEATURES = ("value", "recent_mean", "seasonal_day", "seasonal_week", "peer_deviation")
N_FEATURES = len(FEATURES)
IF_COLUMNS = np.array([VALUE, RECENT_MEAN, SEASONAL_DAY, PEER_DEVIATION])
# Range excess is measured on the region's own history only: the deviation from peers
# gates it (a move every region shares is not regional) but creates no magnitude itself,
# as with a few regions it is the noisiest of the features.
EXCESS_COLUMNS = np.array([VALUE, SEASONAL_DAY])
DAY, WEEK = 86400, 7 * 86400


def excess_weights(params: DetectorParams) -> np.ndarray:
    """Weight of each EXCESS_COLUMNS feature's range excess in the magnitude."""
    weights = np.ones(len(EXCESS_COLUMNS))
    weights[list(EXCESS_COLUMNS).index(SEASONAL_DAY)] = params.seasonal_excess_weight
    return weights


def _count_below(sorted_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row-wise searchsorted(side="left"): how many entries of each sorted row are < value."""
    lo = np.zeros(len(values), np.int64)
    hi = np.full(len(values), sorted_rows.shape[1], np.int64)
    rows = np.arange(len(values))
    while (lo < hi).any():
        mid = (lo + hi) // 2
        below = sorted_rows[rows, np.minimum(mid, sorted_rows.shape[1] - 1)] < values
        active = lo < hi
        lo = np.where(active & below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)
    return lo


class DetectorBank:
    """State of ``n_series`` independent detectors; see the module docstring."""

    def __init__(self, n_series: int, params: DetectorParams = DEFAULT_PARAMS, seeds=None):
        p = self.params = params
        S, T = n_series, p.train_window
        self.n_series = S
        self.seed = np.zeros(S, np.int64) if seeds is None else np.asarray(seeds, np.int64)
        self.count = np.zeros(S, np.int64)  # points seen
        self.next_refit = np.full(S, p.warmup, np.int64)
        self.model_version = np.zeros(S, np.int64)  # bumped by every refit of a series' forest
        self.fast_mean = np.zeros(S)
        # Seasonal ring: value of the latest point in each time bucket, with its bucket id.
        self.ring_bucket = np.full((S, p.ring_buckets), -1, np.int32)
        self.ring_value = np.zeros((S, p.ring_buckets), np.float32)
        # Training rows (circular), with which features each row had.
        self.rows = np.zeros((S, T, N_FEATURES), np.float32)
        self.rows_has = np.zeros((S, T, N_FEATURES), bool)
        # Per-model statistics of the training window, frozen until the next refit.
        self.forest = ForestBank(S, p.n_trees, p.max_samples)
        self.train_scores = np.full((S, T), np.inf, np.float32)  # sorted, inf padded
        self.n_train = np.zeros(S, np.int64)
        self.lo = np.zeros((S, N_FEATURES))
        self.hi = np.zeros((S, N_FEATURES))
        self.median = np.zeros((S, N_FEATURES))
        self.spread = np.ones((S, N_FEATURES))
        self.modelled = np.zeros((S, N_FEATURES), bool)  # feature known to the model
        # Smoothing of -log10 p and alarm suppression.
        self.lp_ring = np.zeros((S, p.smooth))
        self.last_alarm = np.full(S, -(10**12), np.int64)
        # The latest point's details, for explain().
        self.last_features = np.zeros((S, N_FEATURES))
        self.last_has = np.zeros((S, N_FEATURES), bool)
        self.last_lp = np.zeros(S)
        self.last_excess = np.zeros((S, N_FEATURES))
        self.last_shared = np.zeros(S)
        self.last_peers = np.zeros((S, 2))  # peer median, number of peers
        self.last_evidence = np.zeros(S)
        self.last_score = np.zeros(S)

    # ------------------------------------------------------------------ features
    def _seasonal(self, idx, bucket, lag):
        """Mean of the values stored for buckets lag-1..lag+1 back, or NaN."""
        total = np.zeros(len(idx))
        n = np.zeros(len(idx))
        for d in (-1, 0, 1):
            want = bucket - lag + d
            slot = want % self.params.ring_buckets
            ok = self.ring_bucket[idx, slot] == want
            total += np.where(ok, self.ring_value[idx, slot], 0.0)
            n += ok
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    def _features(self, idx, t, x, peers):
        p = self.params
        first = self.count[idx] == 0
        self.fast_mean[idx] = np.where(first, x, self.fast_mean[idx] + p.fast_alpha * (x - self.fast_mean[idx]))
        bucket = np.floor(t / p.bucket_seconds).astype(np.int64)
        f = np.full((len(idx), N_FEATURES), np.nan)
        f[:, VALUE] = x
        f[:, RECENT_MEAN] = self.fast_mean[idx]
        f[:, SEASONAL_DAY] = x - self._seasonal(idx, bucket, DAY // p.bucket_seconds)
        f[:, SEASONAL_WEEK] = x - self._seasonal(idx, bucket, WEEK // p.bucket_seconds)
        peer_median = np.full(len(idx), np.nan)
        n_peers = np.zeros(len(idx))
        if peers is not None:
            peers = np.asarray(peers, np.float64).reshape(len(idx), -1)
            n_peers = np.sum(~np.isnan(peers), axis=1).astype(np.float64)
            some = n_peers > 0
            # Rows without any peer get zeros so nanmedian stays quiet; masked below.
            # The median of this region and its peers: when one peer spikes, the others' reference
            # barely moves (a median of the peers alone would shift and flag every healthy region).
            every = np.concatenate([x[:, None], np.where(some[:, None], peers, 0.0)], axis=1)
            peer_median = np.where(some, np.nanmedian(every, axis=1), np.nan)
            f[:, PEER_DEVIATION] = x - peer_median
        slot = bucket % p.ring_buckets
        self.ring_bucket[idx, slot] = bucket
        self.ring_value[idx, slot] = x
        has = ~np.isnan(f)
        return np.where(has, f, 0.0), has, peer_median, n_peers

    # ------------------------------------------------------------------ models
    def _refit(self, i: int) -> None:
        """Refit series i's forest and window statistics on its trailing rows."""
        p = self.params
        n = int(min(self.count[i], p.train_window))
        X, has = self.rows[i, :n], self.rows_has[i, :n]  # order is irrelevant to a fit
        newest = (self.count[i] - 1) % p.train_window
        # A feature is modelled when most training rows and the newest row have it.
        usable = (has.mean(axis=0) > 0.5) & self.rows_has[i, newest]
        columns = IF_COLUMNS[usable[IF_COLUMNS]]
        self.forest.fit(i, X, columns, seed=int(self.seed[i] + self.count[i]))
        scores = np.sort(self.forest.score_one(i, X)).astype(np.float32)
        self.train_scores[i] = np.inf
        self.train_scores[i, :n] = scores
        self.n_train[i] = n
        q1, med, q3 = np.quantile(X, [0.25, 0.5, 0.75], axis=0)
        lo, hi = X.min(axis=0), X.max(axis=0)
        self.lo[i], self.hi[i], self.median[i] = lo, hi, med
        self.spread[i] = np.maximum(np.maximum(q3 - q1, p.range_floor * (hi - lo)), 1e-9)
        self.modelled[i] = usable

    def refit_due(self, series=None) -> int:
        """Refit the forests whose schedule is due (on past rows only); returns how many.

        ``update`` does this itself unless called with refit=False; the production fit
        job calls it between scoring ticks instead, which gives the same models.
        """
        p = self.params
        idx = np.arange(self.n_series) if series is None else np.asarray(series, np.int64)
        due = idx[self.count[idx] >= self.next_refit[idx]]
        for i in due:
            self._refit(int(i))
            self.model_version[i] += 1
            nxt = self.next_refit[i]
            self.next_refit[i] = 2 * nxt if 2 * nxt < p.refit_every else nxt + p.refit_every
        return len(due)

    # ------------------------------------------------------------------ update
    def update(self, timestamps, values, peers=None, series=None, refit: bool = True) -> np.ndarray:
        """Add one point to each series in ``series`` (default: all); return their scores.

        timestamps: POSIX seconds; values: floats; peers: optional (len, n_peers) array of
        the same metric in peer regions at the same minute, NaN where a peer has no value.
        """
        p = self.params
        idx = np.arange(self.n_series) if series is None else np.asarray(series, np.int64)
        t = np.asarray(timestamps, np.float64).reshape(-1)
        x = np.asarray(values, np.float64).reshape(-1)
        f, has, peer_median, n_peers = self._features(idx, t, x, peers)
        if refit:
            self.refit_due(idx)  # on past rows only: this point is not in the buffer yet

        fitted = self.forest.fitted[idx]
        modelled = self.modelled[idx]
        lp = np.zeros(len(idx))
        if fitted.any():
            rows = idx[fitted]
            iso = self.forest.score(rows, f[fitted])
            n_train = self.n_train[rows]
            above = n_train - _count_below(self.train_scores[rows], iso)
            lp[fitted] = -np.log10((above + 1.0) / (n_train + 1.0))
        # Range excess in robust spreads, only for features the model knows and the point has.
        lo, hi, spread = self.lo[idx], self.hi[idx], self.spread[idx]
        excess = np.maximum(np.maximum(f - hi, lo - f), 0.0) / spread
        excess = np.where(modelled & has & fitted[:, None], excess, 0.0)
        magnitude = (excess[:, EXCESS_COLUMNS] * excess_weights(p)).max(axis=1)
        # Share of the move not shared by peers, in the value's own units (the deviation from
        # peers has its own, often much smaller, spread): 1 without peers, ~0 for a global event.
        own_move = np.abs(f[:, VALUE] - self.median[idx, VALUE])
        regional_move = np.abs(f[:, PEER_DEVIATION] - self.median[idx, PEER_DEVIATION])
        peer_known = has[:, PEER_DEVIATION] & modelled[:, PEER_DEVIATION] & fitted
        share = regional_move / np.maximum(own_move, spread[:, VALUE])
        shared = np.where(peer_known, np.clip(share, 0.0, 1.0), 1.0)
        # With peers, a regional move must also leave the usual distance from the peers: the
        # deviation's range excess caps the magnitude (it never adds any), so noise just past
        # the region's own range, while still near its peers, does not alarm.
        magnitude = np.where(peer_known, np.minimum(magnitude, excess[:, PEER_DEVIATION]), magnitude)

        self.lp_ring[idx, self.count[idx] % p.smooth] = lp
        lp_smooth = self.lp_ring[idx].mean(axis=1)
        evidence = shared * (p.if_weight * lp_smooth + p.excess_weight * np.log1p(magnitude))
        score = 1.0 - 2.0 ** (-evidence / p.evidence_half)
        # One alarm per incident: cap the scores that follow an alarm.
        since = self.count[idx] - self.last_alarm[idx]
        quiet = since <= p.suppress_points
        alarm = ~quiet & (score >= p.alert_threshold)
        score = np.where(quiet, np.minimum(score, 0.9 * p.alert_threshold), score)
        self.last_alarm[idx] = np.where(alarm, self.count[idx], self.last_alarm[idx])

        # Store the row for future fits, then advance.
        pos = self.count[idx] % p.train_window
        self.rows[idx, pos] = f
        self.rows_has[idx, pos] = has
        self.count[idx] += 1
        self.last_features[idx], self.last_has[idx] = f, has
        self.last_lp[idx], self.last_excess[idx], self.last_shared[idx] = lp_smooth, excess, shared
        self.last_peers[idx, 0], self.last_peers[idx, 1] = peer_median, n_peers
        self.last_evidence[idx], self.last_score[idx] = evidence, score
        return score

    def explain(self, i: int) -> Explanation:
        """Why series i's latest point scored what it did."""
        return explain_series(self, i)


def score_series(timestamps, values, peers=None, params: DetectorParams = DEFAULT_PARAMS,
                 explain: bool = False):
    """Stream one whole series through a fresh detector, point by point.

    Returns the scores (and, with explain=True, one Explanation per point). This is the
    same code path as the production job: a bank of one series, updated once per point.
    """
    t = np.asarray(timestamps, np.float64)
    x = np.asarray(values, np.float64)
    bank = DetectorBank(1, params)
    scores = np.zeros(len(x))
    explanations = []
    for j in range(len(x)):
        row_peers = None if peers is None else np.asarray(peers[j], np.float64).reshape(1, -1)
        scores[j] = bank.update(t[j:j + 1], x[j:j + 1], row_peers)[0]
        if explain:
            explanations.append(bank.explain(0))
    return (scores, explanations) if explain else scores
