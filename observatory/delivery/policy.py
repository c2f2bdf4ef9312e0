"""Retry policy for webhook deliveries (pure)."""

from __future__ import annotations

import random

DELIVERED, RETRY, PERMANENT, GONE = "delivered", "retry", "permanent", "gone"


def classify(status: int | None) -> str:
    """2xx delivered; 410 gone (disable the endpoint); other 4xx permanent except 408/429; the rest retry."""
    if status is None:
        return RETRY
    if 200 <= status < 300:
        return DELIVERED
    if status == 410:
        return GONE
    if 400 <= status < 500 and status not in (408, 429):
        return PERMANENT
    return RETRY


def retry_delay(attempt: int, base: float, cap: float, retry_after: float | None = None,
                rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter over [delay/2, delay]; Retry-After is a floor."""
    rng = rng or random
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay
