"""TokenBuckets (per-token rate limit) and InFlight (concurrency cap), with explicit clocks."""

import threading

import pytest

from collectors.limits import InFlight, TokenBuckets


def test_burst_then_wait_time():
    buckets = TokenBuckets(rate_per_second=2, burst=3)
    assert [buckets.take("a", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=100.0) == 0.5  # one token takes 1/rate seconds


def test_refill_over_time():
    buckets = TokenBuckets(rate_per_second=2, burst=3)
    for _ in range(3):
        buckets.take("a", now=0.0)
    assert buckets.take("a", now=0.25) == 0.25  # half a token back, half a token to go
    assert buckets.take("a", now=0.5) == 0.0  # a full token now
    assert buckets.take("a", now=0.5) == 0.5


def test_refused_requests_do_not_consume_tokens():
    buckets = TokenBuckets(rate_per_second=1, burst=1)
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == 1.0
    assert buckets.take("a", now=0.5) == 0.5
    assert buckets.take("a", now=1.0) == 0.0


def test_refill_is_capped_at_the_burst():
    buckets = TokenBuckets(rate_per_second=10, burst=4)
    buckets.take("a", now=0.0)
    allowed = [buckets.take("a", now=3600.0) == 0.0 for _ in range(6)]
    assert allowed == [True, True, True, True, False, False]


def test_tokens_have_separate_buckets():
    buckets = TokenBuckets(rate_per_second=1, burst=1)
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) > 0
    assert buckets.take("b", now=0.0) == 0.0


def test_rate_zero_disables_the_limit():
    buckets = TokenBuckets(rate_per_second=0, burst=1)
    assert all(buckets.take("a", now=0.0) == 0.0 for _ in range(1000))


@pytest.mark.parametrize("burst", [0, 0.5])
def test_burst_below_one_still_lets_one_request_through(burst):
    buckets = TokenBuckets(rate_per_second=1, burst=burst)
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == 1.0


def test_default_clock_is_monotonic_time():
    buckets = TokenBuckets(rate_per_second=1, burst=1)
    assert buckets.take("a") == 0.0
    assert 0.0 < buckets.take("a") <= 1.0


def test_inflight_slots():
    slots = InFlight(2)
    assert slots.try_acquire() is True
    assert slots.try_acquire() is True
    assert slots.try_acquire() is False  # full: refused at once, no waiting
    slots.release()
    assert slots.try_acquire() is True
    assert slots.try_acquire() is False


def test_inflight_release_without_acquire_is_an_error():
    slots = InFlight(1)
    with pytest.raises(ValueError):
        slots.release()


def test_inflight_across_threads_never_exceeds_the_limit():
    slots, limit = InFlight(3), 3
    lock, current, peak, admitted = threading.Lock(), [0], [0], [0]
    start = threading.Barrier(12)

    def worker():
        start.wait()
        for _ in range(200):
            if slots.try_acquire():
                with lock:
                    current[0] += 1
                    admitted[0] += 1
                    peak[0] = max(peak[0], current[0])
                with lock:
                    current[0] -= 1
                slots.release()

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= peak[0] <= limit
    assert admitted[0] > 0
    assert [slots.try_acquire() for _ in range(4)] == [True, True, True, False]  # all slots were given back
