"""Retry policy for webhook deliveries (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

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


# Per-endpoint circuit breaker: CLOSED sends; after `threshold` consecutive failed attempts it
# is OPEN (nothing is sent) until `open_until`; then one worker takes the HALF_OPEN probe.
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
SEND, PROBE, HOLD = "send", "probe", "hold"


@dataclass(frozen=True)
class Breaker:
    state: str = CLOSED
    failures: int = 0  # consecutive failed attempts
    open_until: datetime | None = None  # OPEN: no attempt before this; HALF_OPEN: the probe's lease


def admit(breaker: Breaker, now: datetime, probe_lease: timedelta) -> tuple[str, Breaker]:
    """May an attempt go out now? SEND (closed), PROBE (this attempt is the half-open probe) or HOLD."""
    if breaker.state == CLOSED:
        return SEND, breaker
    if breaker.open_until is not None and now < breaker.open_until:
        return HOLD, breaker  # open and cooling down, or another worker's probe is in flight
    # Cool-down over (or a probe's lease lapsed: its worker died): this attempt probes.
    return PROBE, Breaker(HALF_OPEN, breaker.failures, now + probe_lease)


def record(breaker: Breaker, ok: bool, now: datetime, threshold: int, cooldown: timedelta) -> Breaker:
    """The breaker after an attempt's outcome: success closes it; failures open it at the threshold."""
    if ok:
        return Breaker()
    failures = breaker.failures + 1
    if breaker.state == HALF_OPEN or failures >= threshold:
        return Breaker(OPEN, failures, now + cooldown)  # a failed probe opens it again for a full cool-down
    return Breaker(CLOSED, failures)
