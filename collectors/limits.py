"""Per-process admission control for ingest: a token bucket per token and a cap on requests in flight.

Both are per process, deliberately: ingest must keep working when Redis is down,
so no shared limiter sits on the hot path. With N web processes the effective
per-token rate is N times the configured one.
"""

import threading
import time


class TokenBuckets:
    def __init__(self, rate_per_second: float, burst: float):
        self.rate = rate_per_second
        self.burst = max(burst, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 if the request may go ahead, else the seconds to wait before retrying."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, updated = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class InFlight:
    """Non-blocking slots: when all are taken the caller answers 503 at once instead of queueing."""

    def __init__(self, limit: int):
        self._semaphore = threading.BoundedSemaphore(limit)

    def try_acquire(self) -> bool:
        return self._semaphore.acquire(blocking=False)

    def release(self) -> None:
        self._semaphore.release()
