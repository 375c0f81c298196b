"""The ffmpeg runs of the extra output options (extras.py): loudness
measured, outputs compared with their source, CRFs searched on samples.

Each function takes a ``tools`` object that runs ffmpeg the way the job's
encode does (confined, cancelable): ``tools.run(args)`` runs ffmpeg with
``args`` after its global options, in ``tools.workdir``, and returns the
tail of what it wrote on stderr; ``tools.size_of(path)`` is the (width,
height) of a file's video. Their results are plain dicts small enough for
an output's result.
"""

import dataclasses
import os
import time

from nommer.core.ffmpeg import crf_search, extras, loudness, quality, sources


def measure_loudness(tools, path, wanted, lra_target=11.0):
    """loudnorm's measurement of the audio of ``path`` against ``wanted``
    (an extras.Loudness)."""
    guarded = [*sources.INPUT_GUARD, *loudness.measure_args(path, wanted, lra_target)]
    return loudness.parse(tools.run(guarded))


def compare(tools, output, source, metrics, width, height, tag, start=None, seconds=None):
    """{metric: {mean, min, p5, frames}} of ``output`` against ``source``."""
    args = quality.compare_args(output, source, metrics, width, height, tag, start=start, seconds=seconds)
    # Both inputs read under the source guard; the output is ours but made
    # from the source.
    at = [i for i, a in enumerate(args) if a == "-i"]
    for i in reversed(at):
        args[i:i] = list(sources.INPUT_GUARD)
    tools.run(args)
    found = quality.scores(tools.workdir, metrics, tag)
    for name in quality.files(metrics, tag).values():
        try:
            os.unlink(os.path.join(tools.workdir, name))
        except OSError:
            pass
    return {metric: quality.summary(values) for metric, values in found.items()}


def quality_report(tools, output, source, metrics, width, height, tag):
    """The ``quality`` entry of a result: the scores and the seconds they cost."""
    started = time.monotonic()
    made = compare(tools, output, source, metrics, width, height, tag)
    made["seconds"] = round(time.monotonic() - started, 2)
    return made


@dataclasses.dataclass(frozen=True)
class Choice:
    """What the CRF search found for one output."""

    crf: int
    preset_crf: int
    found: crf_search.Found
    preset_size: int  # bytes of the samples at the preset's CRF
    spans: list
    seconds: float

    def report(self):
        saved = 1 - self.found.size / self.preset_size if self.preset_size else None
        return {
            "crf": self.crf, "preset_crf": self.preset_crf,
            "predicted_vmaf": round(self.found.predicted_vmaf, 2),
            "samples": len(self.spans), "crfs_tried": len(self.found.tried),
            # Of the samples at the chosen CRF against the preset's own.
            "predicted_bitrate_saved_percent": round(saved * 100, 1) if saved is not None else None,
            "search_seconds": round(self.seconds, 2),
        }


def find_crf(tools, source, preset, duration, target, tag):
    """Search the CRF of ``preset`` whose samples of ``source`` reach
    VMAF ``target``."""
    started = time.monotonic()
    spans = crf_search.sample_spans(duration)
    start_crf = extras.preset_crf(preset)
    made = {}

    def measure(crf):
        scores, size = [], 0
        for n, (start, seconds) in enumerate(spans):
            path = os.path.join(tools.workdir, f"sample-{tag}-{n}-{crf}.{preset.extension}")
            tools.run(["-ss", f"{start:.3f}", "-t", f"{seconds:.3f}", *sources.INPUT_GUARD,
                       "-i", str(source), *extras.with_crf(preset.output_args, crf), "-an", path])
            size += os.path.getsize(path)
            width, height = tools.size_of(path)
            got = compare(tools, path, source, ("vmaf",), width, height, f"{tag}-s{n}",
                          start=start, seconds=seconds)
            scores.append(got["vmaf"]["mean"])
            os.unlink(path)
        sample = crf_search.Sample(crf=crf, vmaf=sum(scores) / len(scores), size=size)
        made[crf] = sample
        return sample

    found = crf_search.search(measure, target, start_crf, crf_search.crf_range(extras.codec_of(preset)))
    preset_size = made[start_crf].size if start_crf in made else measure(start_crf).size
    return Choice(crf=found.crf, preset_crf=start_crf, found=found, preset_size=preset_size, spans=spans,
                  seconds=time.monotonic() - started)
