"""Latency histogram bucket bounds shared by the span rollups and latency SLOs."""

# Upper bounds (ms) of the latency buckets; one more bucket counts everything slower.
LATENCY_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


def quantile_ms(counts, q: float) -> float | None:
    """The q-quantile of a latency histogram (counts per LATENCY_BOUNDS_MS bucket plus overflow),
    interpolated linearly inside its bucket; None without samples. The overflow bucket has no
    upper bound, so a quantile that lands there reports the last bound."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            if i >= len(LATENCY_BOUNDS_MS):
                return float(LATENCY_BOUNDS_MS[-1])
            lower = 0.0 if i == 0 else float(LATENCY_BOUNDS_MS[i - 1])
            return lower + (LATENCY_BOUNDS_MS[i] - lower) * (rank - seen) / count
        seen += count
    return float(LATENCY_BOUNDS_MS[-1])
