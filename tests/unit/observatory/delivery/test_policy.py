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
