"""Per-title encoding: the CRF that reaches a VMAF target.

A few short samples spread over the source are encoded with the preset's
arguments at a candidate CRF and compared with the same stretches of the
source (VMAF). The search starts at the preset's own CRF and moves in steps
until the target is bracketed (one CRF that reaches it, one that does not),
then narrows the bracket, guessing the next CRF by linear interpolation of
VMAF between its ends (bisecting when the guess lands on an end), until the
ends are next to each other or ``max_steps`` encodes were made. The answer
is the highest CRF (the smallest file) whose samples reach the target; when
none does, the lowest CRF of the codec's range tried.

The searching here is pure: :func:`search` takes a ``measure(crf) ->
Sample`` that encodes and scores.
"""

import dataclasses

#: The CRFs searched for each encoder a preset may use: from 10 (below it
#: files grow fast for no visible gain, and CRF 0 is lossless, which the
#: presets' H.264 High profile refuses) to the encoder's top.
CRF_RANGES = {"libx264": (10, 51), "libx265": (10, 51), "libvpx-vp9": (10, 63), "libsvtav1": (10, 63)}
DEFAULT_RANGE = (10, 51)
SAMPLE_SECONDS = 2.0
MAX_SAMPLES = 3
MAX_STEPS = 6
FIRST_STEP = 6


@dataclasses.dataclass(frozen=True)
class Sample:
    crf: int
    vmaf: float  # mean over the samples' frames
    size: int  # bytes of the encoded samples together


@dataclasses.dataclass(frozen=True)
class Found:
    crf: int
    predicted_vmaf: float
    size: int  # bytes of the samples at that CRF
    tried: tuple  # every Sample made, in order


def sample_spans(duration, seconds=SAMPLE_SECONDS, count=MAX_SAMPLES):
    """(start, length) of the samples of a source of ``duration`` seconds:
    up to ``count`` of ``seconds`` each, evenly spread, skipping the very
    start and end; a source too short for that is one sample, whole."""
    if not duration or duration <= 2 * seconds:
        return [(0.0, float(duration) if duration else seconds)]
    count = max(1, min(count, int(duration // (2 * seconds))))
    gap = duration / (count + 1)
    return [(round(gap * (i + 1) - seconds / 2, 3), seconds) for i in range(count)]


def crf_range(codec):
    return CRF_RANGES.get(codec, DEFAULT_RANGE)


def search(measure, target, start_crf, bounds=DEFAULT_RANGE, max_steps=MAX_STEPS):
    """The highest CRF within ``bounds`` whose samples reach ``target``."""
    low_crf, high_crf = bounds
    tried = {}

    def at(crf):
        crf = max(low_crf, min(high_crf, int(crf)))
        if crf not in tried:
            tried[crf] = measure(crf)
        return tried[crf]

    good = bad = None  # good: reaches the target (lower CRF side); bad: misses it
    crf = max(low_crf, min(high_crf, int(start_crf)))
    while len(tried) < max_steps:
        sample = at(crf)
        if sample.vmaf >= target:
            good = sample if good is None or sample.crf > good.crf else good
        else:
            bad = sample if bad is None or sample.crf < bad.crf else bad
        if good is not None and bad is not None:
            if bad.crf - good.crf <= 1:
                break
            crf = _between(good, bad, target)
        elif good is not None:
            if good.crf >= high_crf:
                break
            crf = min(high_crf, good.crf + FIRST_STEP)
        else:
            if bad.crf <= low_crf:
                break
            crf = max(low_crf, bad.crf - FIRST_STEP)
        if crf in tried:
            break
    if good is None:
        best = min(tried.values(), key=lambda s: s.crf)
    else:
        best = good
    return Found(crf=best.crf, predicted_vmaf=best.vmaf, size=best.size,
                 tried=tuple(tried[c] for c in tried))


def _between(good, bad, target):
    """The next CRF strictly between ``good`` and ``bad``: interpolated,
    or the middle when the line through them says nothing useful."""
    span = good.vmaf - bad.vmaf
    if span > 0:
        guess = good.crf + (good.vmaf - target) / span * (bad.crf - good.crf)
        crf = int(round(guess))
    else:
        crf = (good.crf + bad.crf) // 2
    if not good.crf < crf < bad.crf:
        crf = (good.crf + bad.crf) // 2
    return crf
