import pytest

from nommer.core.scaling import encoders_to_start


@pytest.mark.parametrize("unfinished, running, expected", [
    (0, 0, 0),        # nothing to do
    (1, 0, 1),        # no encoder and any job: start one
    (10, 0, 1),       # media-nommer starts one first, more on the next tick
    (3, 1, 0),        # 3 < capacity 2 + overflow 2
    (4, 1, 1),        # 4 >= 2 + 2: overage 2 -> one more
    (9, 1, 3),        # overage 7 -> ceil(7/2)=4, capped by max 4 - 1 running = 3
    (9, 4, 0),        # at the maximum
])
def test_media_nommer_rule(unfinished, running, expected):
    assert encoders_to_start(unfinished, running, jobs_per_encoder=2, overflow=2, maximum=4) == expected


def test_minimum_is_kept_even_without_work():
    assert encoders_to_start(0, 0, 2, 2, maximum=3, minimum=2) == 2
    assert encoders_to_start(0, 2, 2, 2, maximum=3, minimum=2) == 0
