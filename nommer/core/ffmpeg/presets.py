"""Named encodings a job can ask for instead of raw ffmpeg options.

A preset is the output half of one ffmpeg command: everything after ``-i
source`` except the output path. Adding a format is adding a row to
:data:`PRESETS`; nothing else needs to know about it.
"""

import dataclasses

from nommer.core.errors import InvalidInput, JobFailed


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    description: str
    extension: str  # of the output file, without the dot
    needs_video: bool  # refuse sources without a video stream
    output_args: tuple[str, ...]

    def check_source(self, probed):
        """Raise JobFailed when the probed source cannot make this output."""
        if self.needs_video and not any(
            s["type"] == "video" and not s.get("attached_pic")
            for s in probed.get("streams", ())
        ):
            raise JobFailed(
                f"preset {self.name!r} needs a video stream and the source has none",
                code="SOURCE_NO_VIDEO",
            )


def _fit_height(height):
    # Height is the smaller of the target and the source (never upscale),
    # rounded down to even; -2 derives the width from the aspect ratio and
    # rounds it to even too, which 4:2:0 chroma needs.
    return f"scale=-2:'min({height},trunc(ih/2)*2)'"


def _mp4_h264(height, crf, maxrate):
    return Preset(
        name=f"mp4-h264-{height}p",
        description=(
            f"H.264 and AAC in MP4, at most {height} pixels high, "
            "ready for progressive download"
        ),
        extension="mp4",
        needs_video=True,
        output_args=(
            # First real video stream (not cover art), first audio if any.
            "-map", "0:V:0", "-map", "0:a:0?",
            "-vf", _fit_height(height),
            "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
            # A cap keeps the bitrate sane for streaming on busy scenes.
            "-maxrate", maxrate, "-bufsize", _double(maxrate),
            "-profile:v", "high", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-ac", "2",
            "-movflags", "+faststart",
            # The muxer must not depend on the name of the work file.
            "-f", "mp4",
        ),
    )


def _double(rate):
    return f"{int(rate[:-1]) * 2}{rate[-1]}"


PRESETS = {
    p.name: p
    for p in (
        _mp4_h264(360, 24, "800k"),
        _mp4_h264(480, 23, "1400k"),
        _mp4_h264(720, 23, "3000k"),
        _mp4_h264(1080, 22, "6000k"),
    )
}


def get_preset(name, field="preset"):
    """The preset called ``name``; InvalidInput naming ``field`` otherwise."""
    if not isinstance(name, str):
        raise InvalidInput(field, "must be text naming a preset; known presets: " + _known())
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidInput(field, f"unknown preset {name!r}; known presets: {_known()}") from None


def _known():
    return ", ".join(PRESETS)
