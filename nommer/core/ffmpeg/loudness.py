"""Loudness normalization with a measured two-pass ``loudnorm``.

The first pass measures the source (``loudnorm`` with ``print_format=json``
writes its integrated loudness, range, true peak and threshold at the end);
the encode then corrects with those measured values, linearly (one gain for
the whole programme, dynamics untouched) when the gain does not push the true
peak over its limit, otherwise with loudnorm's dynamic mode. The output is
measured again afterwards, so that the result says where it landed.

Every number in the filters is formatted here; no user text reaches them.
"""

import json
import re

from nommer.core.errors import JobFailed

_JSON = re.compile(r"\{[^{}]*\"input_i\"[^{}]*\}", re.S)


def measure_args(source, loudness, lra_target=11.0):
    """argv (after ffmpeg's global options) that measures ``source``'s
    loudness against ``loudness`` (an extras.Loudness), writing nothing."""
    graph = (f"loudnorm=I={loudness.target:.1f}:TP={loudness.true_peak:.1f}:"
             f"LRA={lra_target:.1f}:print_format=json")
    return ["-i", str(source), "-map", "0:a:0", "-af", graph, "-f", "null", "-"]


def parse(stderr):
    """The measured values of loudnorm's JSON report in ``stderr``:
    {integrated, range, true_peak, threshold, offset}, or None for silence."""
    found = _JSON.findall(stderr)
    if not found:
        raise JobFailed("loudness could not be measured: loudnorm gave no report", code="ENCODE_FAILED")
    raw = json.loads(found[-1])
    try:
        values = {
            "integrated": float(raw["input_i"]),
            "range": float(raw["input_lra"]),
            "true_peak": float(raw["input_tp"]),
            "threshold": float(raw["input_thresh"]),
            "offset": float(raw["target_offset"]),
        }
    except (KeyError, ValueError) as e:
        raise JobFailed(f"loudness could not be measured: {e}", code="ENCODE_FAILED") from None
    if any(v != v or abs(v) == float("inf") for v in values.values()):
        return None  # silence measures -inf: there is nothing to normalize
    return values


def lra_target(loudness, measured):
    """The loudness range to ask for: the one given, or at least the
    source's (loudnorm drops to dynamic mode when the source's range is
    wider than the target's)."""
    if loudness.range is not None:
        return loudness.range
    return min(50.0, max(11.0, round(measured["range"] + 1.0, 1)))


def is_linear(loudness, measured):
    """Whether one linear gain reaches the target within the true-peak limit."""
    gain = loudness.target - measured["integrated"]
    return (measured["true_peak"] + gain <= loudness.true_peak
            and measured["range"] <= lra_target(loudness, measured))


def correct_filter(loudness, measured):
    """The second pass's filter: the target and the measured values."""
    return (
        f"loudnorm=I={loudness.target:.1f}:TP={loudness.true_peak:.1f}:"
        f"LRA={lra_target(loudness, measured):.1f}:"
        f"measured_I={measured['integrated']:.2f}:measured_LRA={measured['range']:.2f}:"
        f"measured_TP={measured['true_peak']:.2f}:measured_thresh={measured['threshold']:.2f}:"
        f"offset={measured['offset']:.2f}:linear=true:print_format=none"
    )


def shown(measured):
    """What a result keeps of a measurement."""
    return {k: round(measured[k], 2) for k in ("integrated", "range", "true_peak")}


def report(loudness, before, after):
    """The ``loudness`` entry of an output's result."""
    made = {"target": loudness.target, "true_peak_limit": loudness.true_peak,
            "before": shown(before), "after": shown(after)}
    if loudness.measure_only:
        made["mode"] = "measured"
    else:
        made["mode"] = "linear" if is_linear(loudness, before) else "dynamic"
    return made
