"""Per-score explanations: which features drove a score, and the peer comparison (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .detector import DetectorBank


@dataclass(frozen=True)
class FeatureContribution:
    name: str
    value: float  # the feature's value at this point (raw units)
    z: float  # (value - training median) / robust spread of the training window
    excess: float  # spreads beyond the training window's range (0 inside it)
    modelled: bool  # whether the current forest uses / knows this feature


@dataclass(frozen=True)
class PeerComparison:
    peer_median: float  # median of this region's and the peers' values at the same minute
    n_peers: int
    deviation: float  # this region's value minus peer_median
    regional_share: float  # share of the move not shared by peers (1 = purely regional)


@dataclass(frozen=True)
class Explanation:
    score: float
    evidence: float
    isolation_log10_p: float  # smoothed -log10 of the IsolationForest p-value
    magnitude: float  # largest weighted range excess among the magnitude features
    features: tuple[FeatureContribution, ...]
    drivers: tuple[str, ...]  # features ordered by |z|, strongest first
    peers: PeerComparison | None

    def summary(self) -> str:
        top = ", ".join(f"{f.name} z={f.z:+.1f}" for f in self.features if f.name in self.drivers[:3])
        text = f"score {self.score:.2f} (isolation -log10 p {self.isolation_log10_p:.1f}; {top})"
        if self.peers is not None:
            text += (f"; {self.peers.deviation:+.3g} vs median of {self.peers.n_peers} peers, "
                     f"{self.peers.regional_share:.0%} regional")
        return text


def explain_series(bank: DetectorBank, i: int) -> Explanation:
    from .detector import EXCESS_COLUMNS, FEATURES, PEER_DEVIATION, excess_weights

    has, modelled = bank.last_has[i], bank.modelled[i]
    z = (bank.last_features[i] - bank.median[i]) / bank.spread[i]
    features = tuple(
        FeatureContribution(name, float(bank.last_features[i, k]), float(z[k] if modelled[k] else 0.0),
                            float(bank.last_excess[i, k]), bool(modelled[k]))
        for k, name in enumerate(FEATURES) if has[k]
    )
    drivers = tuple(f.name for f in sorted(features, key=lambda f: -abs(f.z)) if f.modelled)
    magnitude = np.max(bank.last_excess[i, EXCESS_COLUMNS] * excess_weights(bank.params))
    if has[PEER_DEVIATION] and modelled[PEER_DEVIATION] and bank.forest.fitted[i]:
        magnitude = min(magnitude, bank.last_excess[i, PEER_DEVIATION])  # as in DetectorBank.update
    peers = None
    if has[PEER_DEVIATION]:
        peers = PeerComparison(float(bank.last_peers[i, 0]), int(bank.last_peers[i, 1]),
                               float(bank.last_features[i, PEER_DEVIATION]), float(bank.last_shared[i]))
    return Explanation(
        score=float(bank.last_score[i]),
        evidence=float(bank.last_evidence[i]),
        isolation_log10_p=float(bank.last_lp[i]),
        magnitude=float(magnitude),
        features=features,
        drivers=drivers,
        peers=peers,
    )
