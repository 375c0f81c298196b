"""Per-title encoding (target_vmaf) and the cost of a quality report, on
three 6 s 1280x720 sources of different complexity made with the bundled
ffmpeg: a still-ish test card (testsrc), a moving pattern (testsrc2) and the
moving pattern under temporal noise.

For each source and the ``mp4-h264-720p`` preset, the very ffmpeg runs the
encoder makes: the preset at its own CRF; the CRF search on samples
(nommer/core/ffmpeg/measuring.find_crf); the encode at the CRF found; the
quality report (PSNR, SSIM, VMAF) of each. Wall and CPU seconds (of the
ffmpeg processes) of each step, sizes and VMAF of the whole outputs.

    python bench/per_title.py   # prints the section of docs/benchmarks.md
"""

import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))

from nommer.core.config import load  # noqa: E402
from nommer.core.ffmpeg import extras, measuring, probe  # noqa: E402
from nommer.core.ffmpeg.command import Tuning  # noqa: E402
from nommer.core.ffmpeg.presets import BUILT_IN_CATALOGUE  # noqa: E402

PRESET = "mp4-h264-720p"
TARGET = 93.0
SECONDS = 6
SOURCES = {
    "still (testsrc)": "testsrc=size=1280x720:rate=25",
    "motion (testsrc2)": "testsrc2=size=1280x720:rate=25",
    "noisy motion (testsrc2 + noise)": "testsrc2=size=1280x720:rate=25,noise=alls=12:allf=t+u",
}
METRICS = ("psnr", "ssim", "vmaf")


class Tools:
    def __init__(self, ffmpeg, folder):
        self.ffmpeg, self.workdir = ffmpeg, str(folder)

    def run(self, args):
        done = subprocess.run([self.ffmpeg, "-hide_banner", "-nostdin", "-y", *args], cwd=self.workdir,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        return done.stderr[-4000:]

    def size_of(self, path):
        video = next(s for s in probe(self.ffmpeg, path)["streams"] if s["type"] == "video")
        return video["width"], video["height"]


def timed(step):
    """(result, wall s, CPU s of the child processes) of ``step()``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = step()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result, wall, cpu


def one_source(tools, name, pattern, index):
    preset = BUILT_IN_CATALOGUE.get(PRESET)
    source = os.path.join(tools.workdir, f"source-{index}.mp4")
    tools.run(["-f", "lavfi", "-i", pattern, "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(SECONDS),
               "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p",
               "-c:a", "aac", source])

    def encode(crf, out):
        tools.run(["-i", source, *Tuning(crf=crf).apply([*preset.output_args, out])])
        return os.path.getsize(out)

    fixed_out = os.path.join(tools.workdir, f"fixed-{index}.mp4")
    fixed_size, fixed_wall, fixed_cpu = timed(lambda: encode(extras.preset_crf(preset), fixed_out))
    fixed_q, q_wall, q_cpu = timed(lambda: measuring.quality_report(
        tools, fixed_out, source, METRICS, *tools.size_of(fixed_out), f"f{index}"))
    choice, search_wall, search_cpu = timed(lambda: measuring.find_crf(
        tools, source, preset, float(SECONDS), TARGET, f"s{index}"))
    tuned_out = os.path.join(tools.workdir, f"tuned-{index}.mp4")
    tuned_size, tuned_wall, tuned_cpu = timed(lambda: encode(choice.crf, tuned_out))
    tuned_q = measuring.quality_report(tools, tuned_out, source, ("vmaf",), *tools.size_of(tuned_out),
                                       f"t{index}")
    return {
        "name": name, "preset_crf": choice.preset_crf, "crf": choice.crf,
        "fixed_kbps": fixed_size * 8 / SECONDS / 1000, "tuned_kbps": tuned_size * 8 / SECONDS / 1000,
        "saved_percent": (1 - tuned_size / fixed_size) * 100,
        "predicted_saved_percent": choice.report()["predicted_bitrate_saved_percent"],
        "fixed_vmaf": fixed_q["vmaf"]["mean"], "predicted_vmaf": choice.found.predicted_vmaf,
        "tuned_vmaf": tuned_q["vmaf"]["mean"], "tuned_vmaf_p5": tuned_q["vmaf"]["p5"],
        "encodes": len(choice.found.tried),
        "encode_wall": fixed_wall, "encode_cpu": fixed_cpu,
        "quality_wall": q_wall, "quality_cpu": q_cpu,
        "search_wall": search_wall, "search_cpu": search_cpu, "tuned_wall": tuned_wall, "tuned_cpu": tuned_cpu,
    }


def main():
    ffmpeg = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-") as folder:
        tools = Tools(ffmpeg, folder)
        return [one_source(tools, name, pattern, i) for i, (name, pattern) in enumerate(SOURCES.items())]


def section(rows, measured=""):
    table = "".join(
        f"| {r['name']} | {r['preset_crf']} → **{r['crf']}** | {r['fixed_kbps']:.0f} → {r['tuned_kbps']:.0f} "
        f"| **{r['saved_percent']:+.1f} %** ({r['predicted_saved_percent']:+.1f} % predicted) "
        f"| {r['fixed_vmaf']:.2f} | {r['predicted_vmaf']:.2f} | {r['tuned_vmaf']:.2f} (p5 {r['tuned_vmaf_p5']:.2f}) "
        f"| {r['encodes']} |\n" for r in rows)
    cost = "".join(
        f"| {r['name']} | {r['encode_wall']:.1f} / {r['encode_cpu']:.1f} | {r['quality_wall']:.1f} / "
        f"{r['quality_cpu']:.1f} | **{(r['encode_cpu'] + r['quality_cpu']) / r['encode_cpu']:.2f}×** "
        f"| {r['search_wall']:.1f} / {r['search_cpu']:.1f} | {r['tuned_wall']:.1f} / {r['tuned_cpu']:.1f} |\n"
        for r in rows)
    return f"""## Per-title encoding and quality reports (bench/per_title.py)

Three {SECONDS} s 1280x720 sources made with the bundled ffmpeg (a still-ish
test card, a moving pattern, the moving pattern under temporal noise),
each encoded with `{PRESET}` at its own CRF and with `"target_vmaf": {TARGET:g}`: the
CRF found on samples (2 s each; one for a 6 s source), the bitrate against the preset's CRF,
the VMAF predicted on the samples and measured on the whole output. The very
ffmpeg runs the encoder makes, run directly.{measured}

| source | CRF | kbit/s | bitrate saved | VMAF at preset CRF | predicted | measured | CRFs tried |
|---|---|---|---|---|---|---|---|
{table}
A negative saving means the target needed a lower CRF than the preset's
(more bits): the preset undershoots the target on that source.

What the options cost, wall / CPU seconds of the ffmpeg runs: the encode at
the preset's CRF; the quality report (`"quality": ["psnr", "ssim", "vmaf"]`,
one extra decode of output and source and the three metrics); the job's CPU
with the report against without; the CRF search of `target_vmaf`; the
encode at the CRF found.

| source | encode | quality report | job CPU with report | CRF search | encode at found CRF |
|---|---|---|---|---|---|
{cost}"""


if __name__ == "__main__":
    import datetime

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    import common

    found = main()
    load = os.getloadavg()[0]
    print(section(found, f" Measured on {datetime.date.today().isoformat()}, on {common.machine()}, "
                         f"shared with other work (load average {load:.1f} at the end), so the seconds "
                         "are those of a loaded machine."))
