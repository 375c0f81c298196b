"""How close an output is to its source: PSNR, SSIM and VMAF.

One ffmpeg run decodes the output and the source, scales the source to the
output's picture size (bicubic, as VMAF's own tools do), lines both up from
their first frame, and feeds each metric filter its copy of the pair; the
per-frame scores land in files of the work folder, named here. The result
keeps, per metric, the mean, the minimum and the 5th percentile (the score
95 % of frames reach or beat) of the frames.

VMAF uses libvmaf's built-in model (vmaf_v0.6.1). PSNR is the average over
Y, U and V; an identical frame (infinite PSNR) counts as 100 dB.
"""

import json
import math
import os
import re

from nommer.core.errors import JobFailed

PSNR_CAP = 100.0
_FILES = {"psnr": "quality-{tag}-psnr.log", "ssim": "quality-{tag}-ssim.log", "vmaf": "quality-{tag}-vmaf.json"}
_SAFE_NAME = re.compile(r"^[a-z0-9.-]+$")


def compare_args(output, source, metrics, width, height, tag, start=None, seconds=None, threads=2):
    """argv (after ffmpeg's global options) comparing ``output`` with
    ``source`` over ``metrics``, run in the work folder where the score
    files land. ``start``/``seconds`` cut the source to the part the
    output was made of (a sample)."""
    names = files(metrics, tag)
    count = len(metrics)
    cut = []
    if start is not None:
        cut += ["-ss", f"{start:.3f}"]
    if seconds is not None:
        cut += ["-t", f"{seconds:.3f}"]
    line_up = "settb=AVTB,setpts=PTS-STARTPTS,format=yuv420p"
    chains = [
        f"[0:v]{line_up},split={count}" + "".join(f"[d{i}]" for i in range(count)),
        f"[1:v]scale={int(width)}:{int(height)}:flags=bicubic,{line_up},split={count}"
        + "".join(f"[r{i}]" for i in range(count)),
    ]
    for i, metric in enumerate(metrics):
        name = names[metric]
        if metric == "psnr":
            chains.append(f"[d{i}][r{i}]psnr=stats_file={name}")
        elif metric == "ssim":
            chains.append(f"[d{i}][r{i}]ssim=stats_file={name}")
        else:
            chains.append(f"[d{i}][r{i}]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:"
                          f"log_path={name}:n_threads={int(threads)}")
    return ["-i", str(output), *cut, "-i", str(source), "-an", "-sn", "-dn",
            "-filter_complex", ";".join(chains), "-f", "null", "-"]


def files(metrics, tag):
    """The score file of each metric (names only: they need no escaping in
    a filtergraph, and the run's working folder holds them)."""
    names = {m: _FILES[m].format(tag=tag) for m in metrics}
    for name in names.values():
        if not _SAFE_NAME.match(name):
            raise ValueError(f"unsafe score file name {name!r}")
    return names


def scores(folder, metrics, tag):
    """{metric: [per-frame score]} read from the score files in ``folder``."""
    found = {}
    for metric, name in files(metrics, tag).items():
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            raise JobFailed(f"the {metric} scores were not written", code="ENCODE_FAILED") from None
        found[metric] = _parse(metric, text)
        if not found[metric]:
            raise JobFailed(f"the {metric} comparison saw no frames", code="ENCODE_FAILED")
    return found


def _parse(metric, text):
    if metric == "vmaf":
        return [float(frame["metrics"]["vmaf"]) for frame in json.loads(text).get("frames", ())]
    key = "psnr_avg:" if metric == "psnr" else "All:"
    values = []
    for line in text.splitlines():
        for word in line.split():
            if word.startswith(key):
                value = float(word[len(key):])
                values.append(min(value, PSNR_CAP) if metric == "psnr" else value)
    return values


def percentile(values, fraction):
    """The nearest-rank percentile of ``values`` (fraction 0.05 → 5th)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values):
    digits = 4 if max(values) <= 1.0 else 2
    return {"mean": round(sum(values) / len(values), digits), "min": round(min(values), digits),
            "p5": round(percentile(values, 0.05), digits), "frames": len(values)}
