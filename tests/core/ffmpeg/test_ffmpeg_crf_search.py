"""The CRF search, on a made-up codec whose VMAF falls with the CRF."""

import pytest

from nommer.core.ffmpeg import crf_search
from nommer.core.ffmpeg.crf_search import Sample


def codec(vmaf_of):
    calls = []

    def measure(crf):
        calls.append(crf)
        return Sample(crf=crf, vmaf=vmaf_of(crf), size=int(1e6 / (crf + 1)))

    return measure, calls


@pytest.mark.parametrize("target, off", [(97.0, 0), (93.0, 0), (88.0, 0), (70.0, 1)])
def test_finds_the_highest_crf_that_reaches_the_target(target, off):
    measure, calls = codec(lambda crf: 100 - 0.02 * crf * crf)  # curved, not a line
    found = crf_search.search(measure, target, start_crf=23, bounds=(0, 51))
    best = max(c for c in range(52) if 100 - 0.02 * c * c >= target)
    # Far from the preset's CRF, the steps run out one short of the best.
    assert best - off <= found.crf <= best
    assert found.predicted_vmaf >= target
    assert len(calls) == len(set(calls)) <= crf_search.MAX_STEPS


def test_an_unreachable_target_gives_the_lowest_crf_tried():
    measure, calls = codec(lambda crf: 80 - crf / 10)
    found = crf_search.search(measure, 95, start_crf=23, bounds=(0, 51))
    assert found.crf == min(calls) and found.predicted_vmaf < 95


def test_an_easy_target_goes_to_the_top_of_the_range():
    measure, _ = codec(lambda crf: 99.0)
    assert crf_search.search(measure, 90, start_crf=23, bounds=(0, 51)).crf == 51


def test_samples_spread_over_the_source():
    assert crf_search.sample_spans(3.0) == [(0.0, 3.0)]
    spans = crf_search.sample_spans(60.0)
    assert len(spans) == 3 and all(0 < s and s + n < 60 for s, n in spans)
    assert crf_search.sample_spans(9.0) == [(round(9 / 3 - 1, 3), 2.0), (round(18 / 3 - 1, 3), 2.0)]
