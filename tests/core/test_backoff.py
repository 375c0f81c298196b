"""The one backoff every retry in nommer uses."""

import random

import pytest

from nommer.core.backoff import Backoff


def test_pauses_double_up_to_the_cap_without_jitter():
    backoff = Backoff(0.2, 10.0, jitter=0)
    assert [backoff.delay(n) for n in range(1, 9)] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]
    assert backoff.delay(10_000) == 10.0  # no overflow however long it fails


def test_jitter_spreads_each_pause_around_its_value():
    backoff = Backoff(1.0, 8.0, jitter=0.5, rng=random.Random(7))
    pauses = [backoff.delay(3) for _ in range(200)]
    assert all(2.0 <= p <= 6.0 for p in pauses)
    assert max(pauses) - min(pauses) > 2.0  # spread, not one value


def test_delays_is_the_same_sequence():
    gen = Backoff(1.0, 4.0, jitter=0).delays()
    assert [next(gen) for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]


@pytest.mark.parametrize("first, cap, jitter", [(-1, 1, 0), (2, 1, 0), (1, 2, 1.5)])
def test_nonsense_is_refused(first, cap, jitter):
    with pytest.raises(ValueError, match="backoff"):
        Backoff(first, cap, jitter)
