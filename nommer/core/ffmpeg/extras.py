"""Output options that act around a preset's encode rather than inside it.

- ``loudness``: normalize the audio to a loudness target with a measured
  two-pass ``loudnorm`` (see loudness.py), or only measure it;
- ``quality``: compare the output with its source (PSNR, SSIM, VMAF; see
  quality.py);
- ``target_vmaf``: choose the CRF that reaches a VMAF on samples of the
  source (see crf_search.py);
- ``keep_if_smaller``: end the output SKIPPED, storing nothing, when it is
  larger than the source or misses its quality target.

Every preset output may carry them, within what its preset makes (audio for
``loudness``, a single video file for the others, a ``-crf`` for
``target_vmaf``). :func:`parse` checks them and raises InvalidInput naming
the field; nothing of what the user wrote reaches ffmpeg but numbers nommer
formats itself.
"""

import dataclasses
import math

from nommer.core.errors import InvalidInput

OPTIONS = ("loudness", "quality", "target_vmaf", "keep_if_smaller")
#: Named loudness targets: integrated loudness (LUFS) and true-peak limit (dBTP).
LOUDNESS_TARGETS = {
    "ebu-r128": (-23.0, -1.0),  # EBU R128
    "atsc-a85": (-24.0, -2.0),  # ATSC A/85
    "streaming": (-16.0, -1.0),
}
MEASURE = "measure"
METRICS = ("psnr", "ssim", "vmaf")
# What loudnorm accepts.
TARGET_RANGE = (-70.0, -5.0)
TRUE_PEAK_RANGE = (-9.0, 0.0)
LRA_RANGE = (1.0, 50.0)
VMAF_RANGE = (1.0, 100.0)


@dataclasses.dataclass(frozen=True)
class Loudness:
    target: float  # LUFS
    true_peak: float  # dBTP
    range: float | None = None  # LU; None: at least the source's, so that no compression is needed
    measure_only: bool = False


@dataclasses.dataclass(frozen=True)
class Extras:
    loudness: Loudness | None = None
    quality: tuple = ()  # metric names, in METRICS order
    target_vmaf: float | None = None
    keep_if_smaller: bool = False

    @property
    def metrics(self):
        """The metrics to measure after the encode: those asked for, and
        VMAF whenever a target is set (its measured value is reported)."""
        wanted = set(self.quality) | ({"vmaf"} if self.target_vmaf is not None else set())
        return tuple(m for m in METRICS if m in wanted)

    def __bool__(self):
        return bool(self.loudness or self.quality or self.target_vmaf is not None or self.keep_if_smaller)


def parse(output, field, preset):
    """The Extras of ``output`` (a job output dict) made with ``preset`` (a
    Preset, or None for media-nommer passes)."""
    given = [key for key in OPTIONS if key in output]
    if not given:
        return Extras()
    if preset is None:
        raise InvalidInput(f"{field}.{given[0]}", "is an option of preset outputs only, not of 'options' passes")
    loudness = _loudness(output["loudness"], f"{field}.loudness", preset) if "loudness" in output else None
    quality = _quality(output["quality"], f"{field}.quality", preset) if "quality" in output else ()
    target = _target_vmaf(output["target_vmaf"], f"{field}.target_vmaf", preset) \
        if "target_vmaf" in output else None
    keep = output.get("keep_if_smaller", False)
    if not isinstance(keep, bool):
        raise InvalidInput(f"{field}.keep_if_smaller", "must be true or false")
    if keep:
        _single_video_file(preset, f"{field}.keep_if_smaller")
    return Extras(loudness=loudness, quality=quality, target_vmaf=target, keep_if_smaller=keep)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _within(value, bounds, field, what):
    if not _number(value):
        raise InvalidInput(field, f"must be a number ({what})")
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInput(field, f"{value:g} is out of range: {what} goes from {low:g} to {high:g}")
    return float(value)


def _loudness(value, field, preset):
    args = preset.output_args
    if "-an" in args or not any(a in args for a in ("-c:a", "-acodec", "-codec:a")):
        raise InvalidInput(field, f"preset {preset.name!r} makes no audio to normalize")
    if preset.kind != "file":
        raise InvalidInput(field, f"is an option of single-file presets; {preset.name!r} makes a {preset.kind}")
    names = ", ".join([*LOUDNESS_TARGETS, MEASURE])
    target_field = f"{field}.target"
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value, target_field = {"target": value}, field  # the shorthand: the target alone
    if not isinstance(value, dict):
        raise InvalidInput(field, f"must be a target ({names} or LUFS as a number) or an object")
    unknown = set(value) - {"target", "true_peak", "range", "measure_only"}
    if unknown:
        raise InvalidInput(f"{field}.{sorted(unknown)[0]}", "is not a loudness option (target, true_peak, range, "
                                                            "measure_only)")
    target = value.get("target", "ebu-r128")
    measure_only = value.get("measure_only", False)
    if not isinstance(measure_only, bool):
        raise InvalidInput(f"{field}.measure_only", "must be true or false")
    peak = None
    if isinstance(target, str):
        if target == MEASURE:
            target, measure_only = "ebu-r128", True
        if target not in LOUDNESS_TARGETS:
            raise InvalidInput(target_field, f"{target[:40]!r} is not a loudness target; give {names} or LUFS as a number")
        target, peak = LOUDNESS_TARGETS[target]
    else:
        target = _within(target, TARGET_RANGE, target_field, "integrated loudness in LUFS")
    if "true_peak" in value:
        peak = _within(value["true_peak"], TRUE_PEAK_RANGE, f"{field}.true_peak", "true peak in dBTP")
    lra = _within(value["range"], LRA_RANGE, f"{field}.range", "loudness range in LU") \
        if "range" in value else None
    return Loudness(target=target, true_peak=-1.0 if peak is None else peak, range=lra,
                    measure_only=measure_only)


def _single_video_file(preset, field):
    if preset.kind != "file" or not preset.needs_video or preset.still:
        raise InvalidInput(field, f"is an option of single-file video presets; {preset.name!r} is not one")


def _quality(value, field, preset):
    if not isinstance(value, list) or not value:
        raise InvalidInput(field, f"must be a list of metrics ({', '.join(METRICS)})")
    for i, metric in enumerate(value):
        if metric not in METRICS:
            shown = repr(metric) if isinstance(metric, str) else "a " + type(metric).__name__
            raise InvalidInput(f"{field}[{i}]", f"{shown[:60]} is not a metric; give {', '.join(METRICS)}")
    _single_video_file(preset, field)
    return tuple(m for m in METRICS if m in value)


def _target_vmaf(value, field, preset):
    target = _within(value, VMAF_RANGE, field, "VMAF")
    _single_video_file(preset, field)
    if preset.make_args is not None or "-crf" not in preset.output_args:
        raise InvalidInput(field, f"needs a preset that encodes at a CRF; {preset.name!r} does not")
    return target


def preset_crf(preset):
    """The CRF in ``preset``'s arguments, as a number."""
    args = preset.output_args
    return int(float(args[args.index("-crf") + 1]))


def codec_of(preset):
    args = preset.output_args
    for name in ("-c:v", "-vcodec", "-codec:v"):
        if name in args:
            return args[args.index(name) + 1]
    return None


def with_crf(args, crf):
    """``args`` with the value of their ``-crf`` replaced by ``crf``."""
    args = list(args)
    args[args.index("-crf") + 1] = str(int(crf))
    return args


def with_audio_filter(args, graph, sample_rate=48000):
    """``args`` (ending with the output path) with ``graph`` as their audio
    filter and a fixed sample rate (loudnorm works at 192 kHz)."""
    args = list(args)
    args[-1:-1] = ["-af", graph, "-ar", str(int(sample_rate))]
    return args


#: How far below ``target_vmaf`` the whole output's measured VMAF may land
#: (the CRF was chosen on samples) before keep_if_smaller skips it.
VMAF_TOLERANCE = 1.0


def skip_reason(wanted, facts, source_bytes):
    """Why ``keep_if_smaller`` drops an output whose facts (size, quality,
    target_vmaf) are ``facts``, or None to keep it."""
    if facts["size"] > source_bytes:
        return f"the output ({facts['size']} bytes) is larger than its source ({source_bytes} bytes)"
    measured = (facts.get("target_vmaf") or {}).get("measured_vmaf")
    if wanted.target_vmaf is not None and measured is not None \
            and measured < wanted.target_vmaf - VMAF_TOLERANCE:
        return (f"its VMAF ({measured:g}) is below its target_vmaf ({wanted.target_vmaf:g}) "
                f"by more than {VMAF_TOLERANCE:g}")
    return None
