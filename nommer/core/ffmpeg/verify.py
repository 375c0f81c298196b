"""Check a stitched output against its source before the job may finish.

The output is decoded whole (every video frame and the audio), which is
itself the first check: ffmpeg must report no error. (Or: each segment is
decoded by the encoder that made it, :func:`check_segment`, and the stitch
check decodes the audio alone and reads the video's packets: the stitch
copies the segments' packets, so it cannot break their decoding, and the
slow part of the check is shared out like the encode.) Then, against the
source's segments.Scan:

- it has exactly the source's number of video frames;
- its video lasts as long as the source's, within one frame, and every
  frame comes at its source frame's time (within half a frame);
- its audio starts and ends where the source's does relative to the
  video, within one audio frame (the audio encoder's frame).

Any failure is a JobFailed (ENCODE_FAILED) saying what differs.
"""

import dataclasses
import os

from nommer.core.errors import JobFailed
from nommer.core.ffmpeg.command import GLOBAL_ARGS
from nommer.core.ffmpeg.runner import FfmpegRun
from nommer.core.ffmpeg.segments import packets

CHECK_FILE = "check-{tag}.framecrc"
_SLACK = 0.0015  # seconds of rounding between containers' time bases


@dataclasses.dataclass(frozen=True)
class Measured:
    frames: int
    video: tuple  # (first, last) frame's time, seconds
    times: tuple  # every frame's time, in order
    audio: tuple | None  # (start, end) seconds, None without audio
    audio_frame: float  # seconds of the longest audio frame decoded (0 without audio)


def measure(ffmpeg, path, workdir, tag="out", sandbox=None, timeout=None, decode_video=True):
    """Decode the output at ``path`` (a file, or an HLS variant playlist)
    through the runner and time what it holds; JobFailed when ffmpeg reports
    any error while decoding. ``decode_video=False`` reads the video's
    packets without decoding them (their decoding was checked segment by
    segment: see check_segment), and decodes the audio alone."""
    folder = os.path.abspath(workdir)
    os.makedirs(folder, exist_ok=True)
    stored = os.path.join(folder, CHECK_FILE.format(tag=f"{tag}-packets"))
    decoded = os.path.join(folder, CHECK_FILE.format(tag=f"{tag}-decoded"))
    # nommer's own output; an HLS playlist opens its segments beside it.
    # The video's times are read from its packets (as the source's are: a
    # decoder guesses the last frame's duration), the audio's from what its
    # decoder gives (as the source's are: without the encoder's priming),
    # and every frame is decoded (wrapped, not copied: the check costs the
    # decode alone).
    argv = [ffmpeg, *GLOBAL_ARGS, "-v", "error", "-xerror", "-protocol_whitelist", "file",
            "-i", os.path.abspath(path),
            "-map", "0:V:0", "-c", "copy", "-f", "framecrc", stored,
            *(["-map", "0:V:0"] if decode_video else []), "-map", "0:a:0?",
            "-c:v", "wrapped_avframe", "-c:a", "pcm_s16le", "-f", "framecrc", decoded]
    if not decode_video:
        # Without audio too, the second listing would hold no stream at all.
        argv[-1:-1] = ["-map", "0:V:0", "-c:v", "copy", "-bsf:v", "noise=drop=1"]
    result = FfmpegRun(argv, cwd=folder, sandbox=sandbox, timeout=timeout).run()
    errors = [ln for ln in result.stderr_tail.splitlines() if ln.strip()]
    if errors:
        raise JobFailed("the stitched output does not decode cleanly: " + " / ".join(errors[-5:]),
                        code="ENCODE_FAILED")
    found = {}
    for name, listing in (("stored", stored), ("decoded", decoded)):
        with open(listing, encoding="utf-8") as f:
            found[name] = list(packets(f.read()))
        os.unlink(listing)
    video = [(t, d) for kind, t, d, _ in found["stored"] if kind == "video"]
    audio = [(t, d) for kind, t, d, _ in found["decoded"] if kind == "audio"]
    if decode_video and len(video) != sum(1 for kind, *_ in found["decoded"] if kind == "video"):
        raise JobFailed("the stitched output holds video packets that do not decode to frames",
                        code="ENCODE_FAILED")
    if not video:
        raise JobFailed("the stitched output has no video frame", code="ENCODE_FAILED")
    return Measured(
        frames=len(video),
        video=(min(t for t, _ in video), max(t for t, _ in video)),
        times=tuple(sorted(t for t, _ in video)),
        audio=(min(t for t, _ in audio), max(t + d for t, d in audio)) if audio else None,
        audio_frame=max((d for _, d in audio), default=0.0),
    )


def problems(measured, scan, priming=False):
    """What differs between ``measured`` (an output) and ``scan`` (its
    source), as sentences; empty when the output is whole. ``priming``: the
    output's container keeps the audio encoder's priming samples (MPEG-TS,
    so HLS), which start its audio up to one more frame early."""
    found = []
    if measured.frames != len(scan.frames):
        found.append(f"it has {measured.frames} video frames where the source has {len(scan.frames)}")
    # From the first frame to the last: a container's idea of the last
    # frame's duration is no measure of the encode.
    seconds, theirs = measured.video[1] - measured.video[0], scan.frames[-1] - scan.frames[0]
    if abs(seconds - theirs) > scan.frame_seconds + _SLACK:
        found.append(f"its video lasts {seconds:.3f} s where the source's lasts {theirs:.3f} s")
    elif measured.frames == len(scan.frames):
        shift = measured.times[0] - scan.frames[0]
        worst = max(abs(a - shift - b) for a, b in zip(measured.times, scan.frames))
        if worst > scan.frame_seconds / 2:
            found.append(f"its frames are up to {worst:.3f} s away from the source's frames' times")
    if scan.audio is not None:
        if measured.audio is None:
            found.append("it has no audio where the source has")
        else:
            frame = measured.audio_frame + _SLACK
            for word, ours, theirs, slack in (  # relative to the first and the last frame
                ("starts", measured.audio[0] - measured.video[0], scan.audio[0] - scan.start,
                 frame + (measured.audio_frame if priming else 0)),
                ("ends", measured.audio[1] - measured.video[1], scan.audio[1] - scan.frames[-1], frame),
            ):
                if abs(ours - theirs) > slack:
                    found.append(f"its audio {word} {ours:+.3f} s from its video where the source's "
                                 f"{word} {theirs:+.3f} s from its video")
    return found


def check_segment(ffmpeg, path, segment, workdir, sandbox=None, timeout=None):
    """Decode the encoded ``segment`` (a segments.Segment) at ``path`` whole,
    on the encoder that made it, and raise JobFailed (ENCODE_FAILED) when it
    does not decode cleanly or holds other than its frames. The stitch
    copies these very packets, so its own check need not decode the video
    again (check with ``decode_video=False``)."""
    tag = f"segment-{segment.index:05d}"
    folder = os.path.abspath(workdir)
    os.makedirs(folder, exist_ok=True)
    listing = os.path.join(folder, CHECK_FILE.format(tag=tag))
    argv = [ffmpeg, *GLOBAL_ARGS, "-v", "error", "-xerror", "-protocol_whitelist", "file",
            "-i", os.path.abspath(path), "-map", "0:V:0", "-c:v", "wrapped_avframe", "-f", "framecrc", listing]
    result = FfmpegRun(argv, cwd=folder, sandbox=sandbox, timeout=timeout).run()
    errors = [ln for ln in result.stderr_tail.splitlines() if ln.strip()]
    with open(listing, encoding="utf-8") as f:
        frames = sum(1 for kind, *_ in packets(f.read()) if kind == "video")
    os.unlink(listing)
    if errors:
        raise JobFailed(f"segment {segment.index} does not decode cleanly: " + " / ".join(errors[-5:]),
                        code="ENCODE_FAILED")
    if frames != segment.frames:
        raise JobFailed(f"segment {segment.index} has {frames} frames where it should have {segment.frames}",
                        code="ENCODE_FAILED")
    return frames


def check(ffmpeg, path, scan, workdir, tag="out", sandbox=None, timeout=None, decode_video=True):
    """Measure the output at ``path`` (a file, or an HLS variant playlist)
    and raise JobFailed (ENCODE_FAILED) unless it is whole against ``scan``;
    returns the Measured. ``decode_video=False`` when every segment passed
    check_segment."""
    measured = measure(ffmpeg, path, workdir, tag, sandbox, timeout, decode_video)
    found = problems(measured, scan, priming=str(path).endswith(".m3u8"))
    if found:
        raise JobFailed("the stitched output is not whole: " + "; ".join(found), code="ENCODE_FAILED")
    return measured
