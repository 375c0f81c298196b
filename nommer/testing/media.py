"""Make test clips with the bundled ffmpeg: ``python -m nommer.testing.media OUT.mp4``.

Used by the tests, the benchmarks and the README's first job, so that a fresh
machine has a real video to encode without downloading anything.
"""

import argparse
import pathlib
import subprocess
import sys


def make_clip(ffmpeg, path, seconds=2.0, size="320x240", rate=25, audio=True,
              video=True, codec="libx264"):
    """Write a clip of moving test pattern (and a tone) to ``path``."""
    args = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    if video:
        args += ["-c:v", codec, "-pix_fmt", "yuv420p"]
        if codec == "libx264":
            args += ["-preset", "ultrafast"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k"]
    args += ["-t", str(seconds), str(path)]
    subprocess.run(args, check=True, timeout=300)
    return path


#: The cues of each language of :func:`add_subtitles`: (start, end, text).
CUES = {
    "eng": [("00:00:00,000", "00:00:00,800", "Hello there"), ("00:00:01,000", "00:00:01,800", "Goodbye now")],
    "ger": [("00:00:00,000", "00:00:00,800", "Hallo du"), ("00:00:01,000", "00:00:01,800", "Tschuess jetzt")],
}


def srt_text(cues):
    """SubRip text of ``cues`` [(start, end, text)]."""
    return "".join(f"{n}\n{start} --> {end}\n{text}\n\n" for n, (start, end, text) in enumerate(cues, 1))


def add_subtitles(ffmpeg, clip, path, languages=("eng", "ger")):
    """Write ``clip`` with a SubRip subtitle stream per language of
    :data:`CUES` (tagged with it) to ``path`` (.mkv): the streams are copied."""
    folder = pathlib.Path(path).parent
    args = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip)]
    for language in languages:
        srt = folder / f"{pathlib.Path(path).stem}-{language}.srt"
        srt.write_text(srt_text(CUES[language]), encoding="utf-8")
        args += ["-i", str(srt)]
    args += ["-map", "0"] + [a for n in range(len(languages)) for a in ("-map", str(n + 1))]
    args += ["-c", "copy", "-c:s", "srt"]
    for n, language in enumerate(languages):
        args += [f"-metadata:s:s:{n}", f"language={language}"]
    subprocess.run(args + [str(path)], check=True, timeout=120)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m nommer.testing.media",
        description="Write a test clip (moving pattern and a tone) with the bundled ffmpeg.")
    parser.add_argument("path")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args(argv)
    import imageio_ffmpeg

    make_clip(imageio_ffmpeg.get_ffmpeg_exe(), args.path, args.seconds, args.size)
    print(args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
