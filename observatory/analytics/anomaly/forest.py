"""Isolation forests packed into flat arrays, scored for many series at once (pure).

scikit-learn fits the forest; we copy each tree into fixed-size numpy arrays so that
one new point for thousands of series (each with its own forest) is scored with a few
vectorised gathers instead of thousands of ``score_samples`` calls. The path length is
exactly scikit-learn's: depth of the leaf + c(samples in leaf) - 1, averaged over the
trees and mapped to 2 ** (-mean / c(max_samples)).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

LEAF = -1  # feature code of a leaf node


def average_path_length(n: np.ndarray | float) -> np.ndarray:
    """c(n): expected path length of an unsuccessful search in a BST of n samples."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _floor_to_float32(values: np.ndarray) -> np.ndarray:
    """Largest float32 <= each float64 threshold, so ``x32 <= t32`` equals ``x32 <= t64``."""
    t32 = values.astype(np.float32)
    over = t32.astype(np.float64) > values
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32


class ForestBank:
    """Per-series isolation forests in arrays of shape (series, trees, nodes).

    ``feature`` is the global feature index (or LEAF); for leaves ``value`` holds the
    leaf's path length, for splits the threshold. Children are int16: a tree of
    max_samples points has at most 2 * max_samples - 1 nodes.
    """

    def __init__(self, n_series: int, n_trees: int, max_samples: int):
        self.n_trees, self.max_samples = n_trees, max_samples
        self.n_nodes = 2 * max_samples - 1
        self.max_depth = int(np.ceil(np.log2(max(max_samples, 2))))
        shape = (n_series, n_trees, self.n_nodes)
        self.feature = np.full(shape, LEAF, dtype=np.int8)
        self.value = np.zeros(shape, dtype=np.float32)
        self.left = np.zeros(shape, dtype=np.int16)
        self.right = np.zeros(shape, dtype=np.int16)
        self.norm = np.ones(n_series, dtype=np.float64)  # n_trees * c(samples per tree)
        self.fitted = np.zeros(n_series, dtype=bool)

    def fit(self, i: int, X: np.ndarray, columns: np.ndarray, seed: int) -> None:
        """Fit series i's forest on rows X (only ``columns`` of the global features)."""
        samples = min(self.max_samples, len(X))
        model = IsolationForest(n_estimators=self.n_trees, max_samples=samples, random_state=seed)
        model.fit(X[:, columns].astype(np.float32))
        self.feature[i] = LEAF
        self.value[i] = 0.0
        for k, estimator in enumerate(model.estimators_):
            tree = estimator.tree_
            m = tree.node_count
            leaf = tree.children_left[:m] < 0
            depth = tree.compute_node_depths()[:m].astype(np.float64)  # root = 1, as sklearn
            leaf_len = depth + average_path_length(tree.n_node_samples[:m]) - 1.0
            feat = np.where(leaf, LEAF, columns[np.maximum(tree.feature[:m], 0)])
            self.feature[i, k, :m] = feat
            self.value[i, k, :m] = np.where(leaf, leaf_len, _floor_to_float32(tree.threshold[:m]))
            self.left[i, k, :m] = np.maximum(tree.children_left[:m], 0)
            self.right[i, k, :m] = np.maximum(tree.children_right[:m], 0)
        self.norm[i] = self.n_trees * float(average_path_length(samples))
        self.fitted[i] = True

    def score(self, rows: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Isolation score in (0, 1] of X[j] under the forest of series rows[j].

        X is (len(rows), n_features); higher is more anomalous (sklearn's -score_samples).
        """
        X = np.asarray(X, dtype=np.float32)
        n = len(rows)
        flat_feature = self.feature.reshape(len(self.feature), -1)
        flat_value = self.value.reshape(len(self.value), -1)
        flat_left = self.left.reshape(len(self.left), -1)
        flat_right = self.right.reshape(len(self.right), -1)
        r = np.asarray(rows)[:, None]
        base = (np.arange(self.n_trees) * self.n_nodes)[None, :]
        node = np.zeros((n, self.n_trees), dtype=np.int64)
        sample = np.arange(n)[:, None]
        # A tree of max_samples points is at most max_depth splits deep.
        for _ in range(self.max_depth):
            idx = base + node
            feat = flat_feature[r, idx]
            split = feat != LEAF
            if not split.any():
                break
            go_left = X[sample, np.maximum(feat, 0)] <= flat_value[r, idx]
            child = np.where(go_left, flat_left[r, idx], flat_right[r, idx])
            node = np.where(split, child, node)
        path = flat_value[r, base + node].astype(np.float64).sum(axis=1)
        return 2.0 ** (-path / self.norm[rows])

    def score_one(self, i: int, X: np.ndarray) -> np.ndarray:
        """Scores of many rows X under series i's forest (used at refit time)."""
        return self.score(np.full(len(X), i), X)
