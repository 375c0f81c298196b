"""Arguments of the HLS ladder: several H.264 renditions of one source,
segmented, with a variant playlist each and a master playlist.

All renditions come from one decode in one ffmpeg run; renditions larger than
the source are dropped (the smallest is always kept), so a 480p source gets a
480p and a 360p rendition, not a blurry 1080p one.
"""

import dataclasses
import os

from nommer.core.ffmpeg.captions import sidecar_args
from nommer.core.ffmpeg.sizing import fit_filter, short_side

MASTER = "master.m3u8"
SEGMENT_SECONDS = 6


@dataclasses.dataclass(frozen=True)
class Rung:
    side: int  # short side in pixels; also the rendition's name ("720p")
    crf: int
    maxrate: str  # e.g. "3000k"

    @property
    def name(self):
        return f"{self.side}p"


# The same settings as the mp4-h264 presets of the same size.
H264_LADDER = (
    Rung(1080, 22, "6000k"),
    Rung(720, 23, "3000k"),
    Rung(480, 23, "1400k"),
    Rung(360, 24, "800k"),
)


def renditions_args(rungs, labels, audio):
    """The encoding of a ladder's renditions, the same in HLS, CMAF and DASH:
    each scaled (unless ``labels`` says a shared filtergraph did it) and
    rate-controlled, H.264 with a key frame at every segment boundary in
    every rendition (so players switch between segments), AAC audio."""
    args = []
    for i, rung in enumerate(rungs):
        if i not in labels:
            args += [f"-filter:v:{i}", fit_filter(rung.side)]
        args += [
            f"-crf:v:{i}", str(rung.crf),
            f"-maxrate:v:{i}", rung.maxrate,
            f"-bufsize:v:{i}", double_rate(rung.maxrate),
        ]
    args += [
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-force_key_frames:v", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})",
    ]
    if audio:
        args += ["-c:a", "aac", "-b:a", "128k", "-ac", "2"]
    return args


def double_rate(rate):
    return f"{int(rate[:-1]) * 2}{rate[-1]}"


def video_stream(probe):
    return next(
        (s for s in (probe or {}).get("streams", ()) if s["type"] == "video" and not s.get("attached_pic")),
        None,
    )


def has_audio(probe):
    return any(s["type"] == "audio" for s in (probe or {}).get("streams", ()))


def rungs_for(probe, ladder=H264_LADDER):
    """The rungs of ``ladder`` to make from the probed source: none larger
    than it, and at least the smallest. Without a probe, every rung."""
    stream = video_stream(probe)
    side = short_side(stream) if stream else 0
    if not side:
        return list(ladder)
    kept = [r for r in ladder if r.side <= side]
    return kept or [min(ladder, key=lambda r: r.side)]


def hls_args(folder, probe, output, labels=None, captions=()):
    """The ladder's output arguments. ``labels`` (rendition number → filter
    label) feed renditions from a shared chain of scalers (see cascade)
    instead of each fitting the source itself. ``captions`` [(input number,
    language)] are caption files read as further inputs."""
    rungs = rungs_for(probe)
    audio = has_audio(probe) or not probe
    labels = labels or {}
    # Text subtitles as WebVTT files, outputs of their own before the ladder's.
    args = sidecar_args(folder, probe, captions)
    for i, _ in enumerate(rungs):
        video = f"[{labels[i]}]" if i in labels else "0:V:0"
        args += ["-map", video] + (["-map", "0:a:0"] if audio else [])
    args += renditions_args(rungs, labels, audio)
    streams = " ".join(
        f"v:{i},a:{i},name:{r.name}" if audio else f"v:{i},name:{r.name}"
        for i, r in enumerate(rungs)
    )
    args += [
        "-f", "hls",
        "-hls_time", str(SEGMENT_SECONDS),
        "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-hls_segment_filename", os.path.join(folder, "%v_%05d.ts"),
        "-master_pl_name", MASTER,
        "-var_stream_map", streams,
        os.path.join(folder, "%v.m3u8"),
    ]
    return args


hls_args.cascades = True  # takes labels from a shared chain of scalers
