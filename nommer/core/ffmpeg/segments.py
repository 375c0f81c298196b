"""Where to cut a source into segments that encoders make in parallel
(accelerated encoding; docs/accelerated.md).

The source's packets are read once without decoding (:func:`scan`): the
time of every video frame and which of them are key frames (and, unless
told not to, where the audio starts and ends, decoded). :func:`plan` then cuts at frames:

- a file output is cut into about ``segment_seconds`` long segments, each
  cut moved to the nearest key frame of the source within half a segment;
  where there is none the cut falls between key frames, and the encoder of
  that segment decodes from the key frame before it and throws those frames
  away (the segment's *lead-in*);
- an HLS output is cut only on its HLS segment boundaries (multiples of
  ``ladder.SEGMENT_SECONDS``), where the encode forces key frames anyway, so
  that the stitched renditions are segmented like a normal encode's.

Every frame belongs to exactly one segment: a segment keeps the frames from
its cut up to the next cut, and both segments use the same boundary time (half
way between two frames) to decide. A variable frame rate changes nothing:
frames keep their own times. When keyframes are so far apart that the
lead-ins would decode more than ``max_lead_in`` times the source's duration
for nothing, the plan is a single segment and says why (``reason``).
"""

import bisect
import dataclasses
import os
import re

from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import sources
from nommer.core.ffmpeg.ladder import SEGMENT_SECONDS as HLS_SEGMENT_SECONDS

SCAN_FILE = "scan-video.framecrc"
AUDIO_SCAN_FILE = "scan-audio.framecrc"
MAX_LEAD_IN = 0.25  # of the source's duration, decoded in all and thrown away
# The presets that may be encoded in segments: one video codec each, made
# frame by frame from the source (two-pass media-nommer options never are).
ELIGIBLE_PRESETS = frozenset({
    "mp4-h264-360p", "mp4-h264-480p", "mp4-h264-720p", "mp4-h264-1080p",
    "mp4-h265-720p", "mp4-h265-1080p", "webm-vp9-720p", "mp4-av1-720p", "hls-h264-ladder",
})
# Output fields that leave an eligible preset eligible.
_PLAIN_FIELDS = frozenset({"destination", "preset", "state", "result", "error", "error_code", "reason"})
_LINE = re.compile(r"^\s*(\d+),\s*(-?\d+),\s*(-?\d+),\s*(\d+),\s*(\d+),\s*(0x[0-9a-f]+)(?:,\s*F=(0x[0-9a-f]+))?")
_TB = re.compile(r"^#tb (\d+): (\d+)/(\d+)")
_TYPE = re.compile(r"^#media_type (\d+): (\w+)")


@dataclasses.dataclass(frozen=True)
class Scan:
    """The source's video frames and audio span, read from its packets.

    Times are seconds from the start of the file as ffmpeg reads it (its
    earliest stream starts at 0), the times a normal encode keeps.
    """

    frames: tuple  # presentation time of every video frame, in order
    keyframes: tuple  # indices into ``frames`` of the key frames, in order
    end: float  # when the last frame ends (its time plus its duration)
    audio: tuple | None = None  # (start, end) of the first audio stream, None without one

    @property
    def start(self):
        return self.frames[0]

    @property
    def duration(self):
        return self.end - self.frames[0]

    @property
    def frame_seconds(self):
        """The longest time between two frames: one frame, for checks."""
        gaps = [b - a for a, b in zip(self.frames, self.frames[1:])]
        return max(gaps) if gaps else self.end - self.frames[0]

    @property
    def variable_rate(self):
        """Whether frames are not evenly spaced (beyond a millisecond)."""
        gaps = [b - a for a, b in zip(self.frames, self.frames[1:])]
        return bool(gaps) and max(gaps) - min(gaps) > 0.001


@dataclasses.dataclass(frozen=True)
class Segment:
    """Frames ``first`` to ``last`` (indices, inclusive) of the source."""

    index: int
    first: int
    last: int
    start: float  # the boundary with the previous segment (seconds; -inf-like for the first)
    end: float  # the boundary with the next one
    seek: float  # where decoding starts: the key frame at or before ``first``
    time: float  # the time of frame ``first``
    seconds: float  # how long its frames last in the output
    lead_in: float  # seconds decoded before ``first`` and thrown away

    @property
    def frames(self):
        return self.last - self.first + 1


@dataclasses.dataclass(frozen=True)
class SegmentPlan:
    segments: tuple
    reason: str = ""  # why there is only one segment, when acceleration was asked but does not pay
    grid: float | None = None  # the HLS segment length cuts fall on, if any

    @property
    def accelerated(self):
        return len(self.segments) > 1

    @property
    def lead_in(self):
        return sum(s.lead_in for s in self.segments)


def scan(ffmpeg, source, workdir, probe=None, sandbox=None, timeout=None, audio=True):
    """The Scan of ``source``, read by ffmpeg run through the runner (confined
    by ``sandbox``, writing its listings in ``workdir``). ``probe`` (of the
    source) says whether it has audio, which is decoded to time it exactly;
    ``audio=False`` lists the video's packets alone (an accelerated job's
    audio piece times the source's audio itself: verify.check_audio), and
    the Scan's ``audio`` is None."""
    from nommer.core.ffmpeg.command import GLOBAL_ARGS
    from nommer.core.ffmpeg.runner import FfmpegRun

    streams = (probe or {}).get("streams", ())
    if probe is not None and not any(s["type"] == "video" and not s.get("attached_pic") for s in streams):
        raise JobFailed("the source has no video stream to cut into segments", code="NO_VIDEO_STREAM")
    audio = audio and any(s["type"] == "audio" for s in streams)
    folder = os.path.abspath(workdir)
    os.makedirs(folder, exist_ok=True)
    argv = [ffmpeg, *GLOBAL_ARGS, "-v", "error", *scan_args(source, folder, audio)]
    FfmpegRun(argv, cwd=folder, sandbox=sandbox, timeout=timeout).run()
    with open(os.path.join(folder, SCAN_FILE), encoding="utf-8") as f:
        text = f.read()
    if audio:
        with open(os.path.join(folder, AUDIO_SCAN_FILE), encoding="utf-8") as f:
            text_audio = f.read()
        return parse_scan(text, text_audio)
    return parse_scan(text)


def scan_args(source, folder, audio=False):
    """ffmpeg arguments (after the global ones) that list every packet of
    the source's first video stream, without decoding, in
    ``folder``/SCAN_FILE (framecrc prints each packet's times and, for
    packets that are not key frames, its flags); with ``audio``, the first
    audio stream decoded, in ``folder``/AUDIO_SCAN_FILE (decoded, so that
    its times are those a player hears, without the encoder's priming)."""
    folder = os.path.abspath(folder)
    args = [*sources.INPUT_GUARD, "-i", os.path.abspath(source),
            "-map", "0:V:0", "-c", "copy", "-f", "framecrc", os.path.join(folder, SCAN_FILE)]
    if audio:
        args += ["-map", "0:a:0", "-c:a", "pcm_s16le", "-f", "framecrc", os.path.join(folder, AUDIO_SCAN_FILE)]
    return args


def parse_scan(text, audio_text=None):
    """The Scan in the framecrc listings of scan_args; JobFailed when it holds no video frame."""
    video = [(pts, duration, key) for kind, pts, duration, key in packets(text) if kind == "video"]
    audio = [(pts, duration) for kind, pts, duration, _ in packets(audio_text or "") if kind == "audio"]
    if not video:
        raise JobFailed("the source has no video frame to cut into segments", code="NO_VIDEO_STREAM")
    video.sort(key=lambda f: f[0])
    frames = tuple(round(f[0], 6) for f in video)
    keyframes = tuple(i for i, f in enumerate(video) if f[2])
    last = video[-1]
    gap = last[1] or (frames[-1] - frames[-2] if len(frames) > 1 else 0.04)
    span = None
    if audio:
        span = (round(min(a[0] for a in audio), 6), round(max(a[0] + a[1] for a in audio), 6))
    return Scan(frames=frames, keyframes=keyframes or (0,), end=round(last[0] + gap, 6), audio=span)


def packets(text):
    """(media type, time, duration, key) of each packet of a framecrc listing, seconds."""
    tbs, kinds = {}, {}
    for line in text.splitlines():
        if line.startswith("#"):
            if m := _TB.match(line):
                tbs[int(m[1])] = int(m[2]) / int(m[3])
            elif m := _TYPE.match(line):
                kinds[int(m[1])] = m[2]
            continue
        if m := _LINE.match(line):
            stream = int(m[1])
            tb = tbs.get(stream, 1.0)
            key = m[7] is None or bool(int(m[7], 16) & 1)
            yield kinds.get(stream, "video"), int(m[3]) * tb, int(m[4]) * tb, key


def eligible(output, probe, presets, min_seconds):
    """Why ``output`` (a job output dict) of a source described by ``probe``
    cannot be encoded in segments, or "" when it can."""
    name = output.get("preset") if isinstance(output, dict) else None
    if name is None:
        return "outputs given as ffmpeg options (media-nommer passes) are encoded whole"
    if name not in ELIGIBLE_PRESETS or name not in presets or presets.get(name).origin != "built-in":
        return f"preset {name!r} is encoded whole; segments are made for: " + ", ".join(sorted(ELIGIBLE_PRESETS))
    extra = sorted(set(output) - _PLAIN_FIELDS)
    if extra:
        return f"outputs with {', '.join(extra)} are encoded whole"
    streams = (probe or {}).get("streams", ())
    if any(s["type"] == "subtitle" for s in streams):
        return "sources with subtitle streams are encoded whole (their text goes into the output)"
    duration = (probe or {}).get("duration")
    if duration is None or duration <= min_seconds:
        return f"the source lasts {duration or 0:g} s, not more than accelerate_min_seconds ({min_seconds:g} s)"
    return ""


def plan(scan, segment_seconds, hls=False, max_lead_in=MAX_LEAD_IN):
    """Cut ``scan``'s frames into segments of about ``segment_seconds``
    (HLS: a whole number of HLS segments, at least one). See the module."""
    if segment_seconds <= 0:
        raise ValueError("segment_seconds must be positive")
    frames, keys = scan.frames, scan.keyframes
    grid = float(HLS_SEGMENT_SECONDS) if hls else None
    if hls:
        step = max(1, round(segment_seconds / grid)) * grid
        ideal = [scan.start + step * k for k in range(1, int(scan.duration // step) + 1)]
        # The frame at which a normal encode forces the key frame: the first at or after the time.
        cuts = [_first_at_or_after(frames, t) for t in ideal]
    else:
        count = max(1, round(scan.duration / segment_seconds))
        ideal = [scan.start + scan.duration * k / count for k in range(1, count)]
        cuts = [_snap(frames, keys, t, segment_seconds / 2) for t in ideal]
    cuts = sorted({c for c in cuts if 0 < c < len(frames)})
    segments = _segments(scan, cuts)
    lead_in = sum(s.lead_in for s in segments)
    if len(segments) > 1 and lead_in > max_lead_in * scan.duration:
        whole = _segments(scan, [])
        return SegmentPlan(whole, grid=grid, reason=(
            f"the source's key frames are too far apart: its {len(segments)} segments would decode "
            f"{lead_in:.1f} s of video only to throw it away (more than {max_lead_in:.0%} of its "
            f"{scan.duration:.1f} s); it is encoded whole"))
    return SegmentPlan(tuple(segments), grid=grid)


def _segments(scan, cuts):
    frames, keys = scan.frames, scan.keyframes
    bounds = [0, *cuts, len(frames)]
    out = []
    for n, (first, after) in enumerate(zip(bounds, bounds[1:])):
        key = keys[bisect.bisect_right(keys, first) - 1] if keys and keys[0] <= first else 0
        end_time = frames[after] if after < len(frames) else scan.end
        out.append(Segment(
            index=n, first=first, last=after - 1,
            start=_boundary(frames, first), end=_boundary(frames, after) if after < len(frames) else scan.end + 1,
            seek=frames[key], time=frames[first], seconds=round(end_time - frames[first], 6),
            lead_in=round(frames[first] - frames[key], 6)))
    return out


def _boundary(frames, index):
    """Half way between frame ``index`` and the one before it."""
    if index == 0:
        return frames[0] - 1.0
    return round((frames[index - 1] + frames[index]) / 2, 6)


def _first_at_or_after(frames, t):
    return bisect.bisect_left(frames, t - 1e-6)


def _snap(frames, keys, t, window):
    """The key frame nearest ``t`` within ``window`` seconds, else the frame nearest ``t``."""
    times = [frames[k] for k in keys]
    at = bisect.bisect_left(times, t)
    near = [keys[j] for j in (at - 1, at) if 0 <= j < len(keys) and keys[j] > 0 and abs(times[j] - t) <= window]
    if near:
        return min(near, key=lambda k: abs(frames[k] - t))
    at = bisect.bisect_left(frames, t)
    return min((i for i in (at - 1, at) if 0 < i < len(frames)), key=lambda i: abs(frames[i] - t), default=0)
