"""The catalogue of named encodings a job can ask for instead of raw ffmpeg options.

Adding a format is adding a row to :data:`BUILT_IN`; operators add their own
in the configuration file (``[presets.NAME]``, see ``custom``), and a
:class:`Catalogue` holds both. docs/presets.md describes every built-in one.
"""

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg import dash, images, ladder
from nommer.core.ffmpeg.preset import Preset
from nommer.core.ffmpeg.sizing import fit_filter

# First real video stream (not cover art), first audio stream if any.
_VIDEO_AND_AUDIO = ("-map", "0:V:0", "-map", "0:a:0?")
_AAC = ("-c:a", "aac", "-b:a", "128k", "-ac", "2")
# moov first, for progressive download; the muxer is named so that it does
# not depend on the name of the work file.
_MP4 = ("-movflags", "+faststart", "-f", "mp4")


def _mp4_h264(side, crf, maxrate):
    return Preset(
        name=f"mp4-h264-{side}p",
        side=side,
        description=(
            f"H.264 (High) and AAC in MP4, at most {side} pixels on the short side, "
            "ready for progressive download"
        ),
        extension="mp4",
        needs_video=True,
        options=("captions",),
        output_args=(
            *_VIDEO_AND_AUDIO,
            "-vf", fit_filter(side),
            "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
            # A cap keeps the bitrate sane for streaming on busy scenes.
            "-maxrate", maxrate, "-bufsize", ladder.double_rate(maxrate),
            "-profile:v", "high", "-pix_fmt", "yuv420p",
            *_AAC, *_MP4,
        ),
    )


def _mp4_h265(side, crf, maxrate):
    return Preset(
        name=f"mp4-h265-{side}p",
        side=side,
        description=(
            f"H.265/HEVC and AAC in MP4, at most {side} pixels on the short side; "
            "tagged hvc1 so that Apple players accept it"
        ),
        extension="mp4",
        needs_video=True,
        options=("captions",),
        output_args=(
            *_VIDEO_AND_AUDIO,
            "-vf", fit_filter(side),
            "-c:v", "libx265", "-preset", "veryfast", "-crf", str(crf),
            "-maxrate", maxrate, "-bufsize", ladder.double_rate(maxrate),
            "-x265-params", "log-level=error",
            "-tag:v", "hvc1", "-pix_fmt", "yuv420p",
            *_AAC, *_MP4,
        ),
    )


WEBM_VP9_720P = Preset(
    name="webm-vp9-720p",
    side=720,
    description="VP9 and Opus in WebM, at most 720 pixels on the short side; fast real-time VP9 settings",
    extension="webm",
    needs_video=True,
    output_args=(
        *_VIDEO_AND_AUDIO,
        "-vf", fit_filter(720),
        # Constant quality (-b:v 0) at libvpx's fastest settings, on all cores.
        "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
        "-crf", "33", "-b:v", "0", "-pix_fmt", "yuv420p",
        "-c:a", "libopus", "-b:a", "128k", "-ac", "2",
        "-f", "webm",
    ),
)

MP4_AV1_720P = Preset(
    name="mp4-av1-720p",
    side=720,
    description="AV1 (SVT-AV1, a fast preset) and AAC in MP4, at most 720 pixels on the short side",
    extension="mp4",
    needs_video=True,
    options=("captions",),
    output_args=(
        *_VIDEO_AND_AUDIO,
        "-vf", fit_filter(720),
        "-c:v", "libsvtav1", "-preset", "10", "-crf", "35", "-pix_fmt", "yuv420p",
        *_AAC, *_MP4,
    ),
)

M4A_AAC = Preset(
    name="m4a-aac",
    description="Audio only: AAC at 128 kb/s, stereo, in M4A",
    extension="m4a",
    needs_video=False,
    needs_audio=True,
    output_args=("-map", "0:a:0", "-vn", *_AAC, "-movflags", "+faststart", "-f", "ipod"),
)

OGG_OPUS = Preset(
    name="ogg-opus",
    description="Audio only: Opus at 96 kb/s, stereo, in Ogg",
    extension="opus",
    needs_video=False,
    needs_audio=True,
    output_args=("-map", "0:a:0", "-vn", "-c:a", "libopus", "-b:a", "96k", "-ac", "2", "-f", "opus"),
)

THUMBNAILS_JPEG = Preset(
    name="thumbnails-jpeg",
    description=(
        f"A JPEG every `interval` seconds (default {images.DEFAULT_INTERVAL:g}), from the start, "
        f"at most {images.THUMBNAIL_SIDE} pixels on the short side: thumb-00001.jpg, thumb-00002.jpg, ..."
    ),
    extension="jpg",
    needs_video=True,
    kind="images",
    make_args=images.thumbnail_args,
    options=("interval",),
)

POSTER_JPEG = Preset(
    name="poster-jpeg",
    description=(
        "One JPEG from a tenth of the way into the source, "
        f"at most {images.POSTER_SIDE} pixels on the short side"
    ),
    extension="jpg",
    needs_video=True,
    make_args=images.poster_args,
)

HLS_H264_LADDER = Preset(
    name="hls-h264-ladder",
    description=(
        "HLS: H.264 and AAC renditions of at most 1080, 720, 480 and 360 pixels on the short side "
        f"(those larger than the source left out), {ladder.SEGMENT_SECONDS} s segments, "
        f"a variant playlist each and a master playlist ({ladder.MASTER})"
    ),
    extension="m3u8",
    needs_video=True,
    kind="hls",
    options=("captions",),
    make_args=ladder.hls_args,
)

_LADDER_WORDS = (
    "H.264 renditions of at most 1080, 720, 480 and 360 pixels on the short side "
    f"(those larger than the source left out) and one AAC audio, as fragmented MP4 in {ladder.SEGMENT_SECONDS} s "
    "segments (init-ID.m4s, chunk-ID-NNNNN.m4s)"
)

CMAF_H264_LADDER = Preset(
    name="cmaf-h264-ladder",
    description=(
        f"CMAF: {_LADDER_WORDS}, with both a DASH manifest ({dash.MPD}) and an HLS master playlist "
        f"({ladder.MASTER}, media_N.m3u8) over the same segments"
    ),
    extension="mpd",
    needs_video=True,
    kind="cmaf",
    options=("captions",),
    make_args=dash.cmaf_args,
)

DASH_H264_LADDER = Preset(
    name="dash-h264-ladder",
    description=f"MPEG-DASH: {_LADDER_WORDS}, and a DASH manifest ({dash.MPD})",
    extension="mpd",
    needs_video=True,
    kind="dash",
    options=("captions",),
    make_args=dash.dash_args,
)

BUILT_IN = (
    _mp4_h264(360, 24, "800k"),
    _mp4_h264(480, 23, "1400k"),
    _mp4_h264(720, 23, "3000k"),
    _mp4_h264(1080, 22, "6000k"),
    _mp4_h265(720, 26, "2000k"),
    _mp4_h265(1080, 25, "4000k"),
    WEBM_VP9_720P,
    MP4_AV1_720P,
    HLS_H264_LADDER,
    CMAF_H264_LADDER,
    DASH_H264_LADDER,
    M4A_AAC,
    OGG_OPUS,
    THUMBNAILS_JPEG,
    POSTER_JPEG,
)

PRESETS = {p.name: p for p in BUILT_IN}


class Catalogue:
    """The presets one farm knows: the built-in ones and its operator's."""

    def __init__(self, presets=BUILT_IN):
        self._by_name = {p.name: p for p in presets}

    def get(self, name, field="preset"):
        """The preset called ``name``; InvalidInput naming ``field`` otherwise."""
        if not isinstance(name, str):
            raise InvalidInput(field, "must be text naming a preset; known presets: " + self._known())
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidInput(field, f"unknown preset {name!r}; known presets: {self._known()}") from None

    def __contains__(self, name):
        return name in self._by_name

    def __iter__(self):
        return iter(self._by_name.values())

    def names(self):
        return list(self._by_name)

    def describe(self):
        return [p.describe() for p in self]

    def _known(self):
        return ", ".join(self._by_name)


BUILT_IN_CATALOGUE = Catalogue()


def catalogue(operator_presets=None):
    """The built-in presets plus those of the ``presets`` setting (already checked)."""
    if not operator_presets:
        return BUILT_IN_CATALOGUE
    from nommer.core.ffmpeg.custom import build_presets

    return Catalogue((*BUILT_IN, *build_presets(operator_presets)))


def get_preset(name, field="preset"):
    """The built-in preset called ``name``; InvalidInput naming ``field`` otherwise."""
    return BUILT_IN_CATALOGUE.get(name, field)


def presets_markdown():
    """The table of built-in presets in docs/presets.md."""
    lines = ["| preset | kind | extension | needs | what it makes |", "|---|---|---|---|---|"]
    for p in BUILT_IN:
        needs = ", ".join(n for n, flag in (("video", p.needs_video), ("audio", p.needs_audio)) if flag)
        lines.append(f"| `{p.name}` | {p.kind} | {p.extension} | {needs or '-'} | {p.description} |")
    return "\n".join(lines) + "\n"
