import random

import pytest

from observatory.delivery.policy import DELIVERED, GONE, PERMANENT, RETRY, classify, retry_delay


@pytest.mark.parametrize("status,verdict", [
    (200, DELIVERED), (202, DELIVERED), (204, DELIVERED), (299, DELIVERED),
    (410, GONE),
    (400, PERMANENT), (401, PERMANENT), (403, PERMANENT), (404, PERMANENT), (422, PERMANENT),
    (408, RETRY), (429, RETRY), (500, RETRY), (502, RETRY), (503, RETRY), (301, RETRY), (None, RETRY),
])
def test_classify(status, verdict):
    assert classify(status) == verdict


def test_retry_delay_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)]:
        for _ in range(50):
            delay = retry_delay(attempt, base=1, cap=10, rng=rng)
            assert ceiling / 2 <= delay <= ceiling


def test_jitter_spreads_retries():
    rng = random.Random(1)
    assert len({round(retry_delay(4, 1, 100, rng=rng), 3) for _ in range(20)}) > 10


def test_retry_after_is_a_floor_within_the_cap():
    assert retry_delay(1, base=1, cap=60, retry_after=30, rng=random.Random(0)) == 30
    assert retry_delay(1, base=1, cap=60, retry_after=3600, rng=random.Random(0)) == 60
    assert retry_delay(6, base=1, cap=60, retry_after=0.1, rng=random.Random(0)) >= 16


def test_breaker_opens_after_consecutive_failures_then_admits_one_probe():
    from datetime import datetime, timedelta, timezone

    from observatory.delivery.policy import CLOSED, HALF_OPEN, HOLD, OPEN, PROBE, SEND, Breaker, admit, record

    t0, cooldown, lease = datetime(2026, 1, 1, tzinfo=timezone.utc), timedelta(seconds=60), timedelta(seconds=30)
    b = Breaker()
    for i in range(2):
        assert admit(b, t0, lease) == (SEND, b)
        b = record(b, False, t0, 3, cooldown)
        assert (b.state, b.failures) == (CLOSED, i + 1)
    b = record(b, True, t0, 3, cooldown)
    assert b == Breaker()  # a success resets the count: failures must be consecutive
    for _ in range(3):
        b = record(b, False, t0, 3, cooldown)
    assert (b.state, b.open_until) == (OPEN, t0 + cooldown)
    assert admit(b, t0 + timedelta(seconds=59), lease)[0] == HOLD
    verdict, probing = admit(b, t0 + cooldown, lease)
    assert verdict == PROBE and probing.state == HALF_OPEN and probing.open_until == t0 + cooldown + lease
    assert admit(probing, t0 + cooldown + timedelta(seconds=1), lease)[0] == HOLD  # one probe at a time
    assert admit(probing, t0 + cooldown + lease, lease)[0] == PROBE  # the prober died: probe again
    failed = record(probing, False, t0 + cooldown, 3, cooldown)
    assert (failed.state, failed.open_until) == (OPEN, t0 + 2 * cooldown)  # a failed probe reopens at once
    assert record(probing, True, t0 + cooldown, 3, cooldown) == Breaker()
