"""Measure each built-in preset's cost factor on this machine: wall-clock
encoder-seconds per source-second, encoding a 1280x720, 25 fps test clip
with the preset's own arguments (one ffmpeg run per preset, as an encoder
with one slot would). The numbers seed ``CALIBRATED_COST`` in
nommer/core/feeder/costs.py; run with ``python -m bench.calibrate_presets``."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from nommer.core.ffmpeg.probe import probe as probe_source
from nommer.core.ffmpeg.presets import BUILT_IN


def make_clip(ffmpeg, path, seconds, size):
    subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", path], check=True, capture_output=True)


def measure(ffmpeg, source, probed, preset, folder):
    target = os.path.join(folder, f"out-{preset.name}")
    if preset.writes_folder:
        os.makedirs(target, exist_ok=True)
    else:
        target += f".{preset.extension}"
    args = preset.arguments(target, probed)
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", source, *args]
    began = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=folder)
    return time.perf_counter() - began


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of the test clip")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "source.mp4")
        make_clip(ffmpeg, source, args.seconds, args.size)
        probed = probe_source(ffmpeg, source)
        for preset in BUILT_IN:
            try:
                took = measure(ffmpeg, source, probed, preset, folder)
            except subprocess.CalledProcessError as e:
                print(f"{preset.name}: failed: {e.stderr.decode()[-300:]}", file=sys.stderr)
                continue
            results[preset.name] = round(took / args.seconds, 3)
            if not args.json:
                print(f"{preset.name:20s} {results[preset.name]:.3f} s per source second", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
