"""Check a stitched output against its source before the job may finish.

The output is decoded whole (every video frame and the audio), which is
itself the first check: ffmpeg must report no error. Or, as an accelerated
job does, the decoding is shared out like the encode: each segment is
decoded by the encoder that made it (:func:`check_segment`), the audio
piece by the encoder that made it, against the source's audio decoded in
the same run as its encode (:func:`check_audio`, an AudioCheck), and the
stitch's check reads packets only (the stitch copies the pieces' packets,
so it cannot break their decoding). Then, against the source's
segments.Scan:

- it has exactly the source's number of video frames;
- its video lasts as long as the source's, within one frame, and every
  frame comes at its source frame's time (within half a frame);
- its audio starts and ends where the source's does relative to the
  video, within one audio frame (the audio encoder's frame); when the audio
  piece was checked on its own, the output must hold every one of its
  packets, each at its time relative to the video, and it is heard as the
  piece was (the output's packets plus the piece's decoded-to-packet
  offsets).

Any failure is a JobFailed (ENCODE_FAILED) saying what differs.
"""

import dataclasses
import json
import os

from nommer.core.errors import JobFailed
from nommer.core.ffmpeg.command import GLOBAL_ARGS
from nommer.core.ffmpeg.runner import FfmpegRun
from nommer.core.ffmpeg.segments import packets

CHECK_FILE = "check-{tag}.framecrc"
SOURCE_AUDIO_FILE = "source-audio.framecrc"  # the source's audio, decoded in the audio piece's run
_SLACK = 0.0015  # seconds of rounding between containers' time bases
# The cheaper decode of a segment's check: one thread (no frame threads'
# overhead) and no deblocking (a filter after each picture is rebuilt: it
# reads nothing from the stream and reports no error). Every packet is
# still parsed and every picture reconstructed. See docs/accelerated.md.
SEGMENT_DECODE = ("-threads", "1", "-skip_loop_filter", "all")


@dataclasses.dataclass(frozen=True)
class Measured:
    frames: int
    video: tuple  # (first, last) frame's time, seconds
    times: tuple  # every frame's time, in order
    audio: tuple | None  # (start, end) seconds, None without audio
    audio_frame: float  # seconds of the longest audio frame decoded (0 without audio)
    audio_packets: int | None = None  # how many audio packets it holds, when counted (audio given to measure)


@dataclasses.dataclass(frozen=True)
class AudioCheck:
    """What the audio piece's check found (check_audio), for the stitch's:
    times in seconds of the source's timeline (the piece is encoded from
    the whole source, which keeps its times)."""

    source: tuple  # (start, end) of the source's first audio stream, decoded
    decoded: tuple  # (start, end) of the piece, decoded
    packets: tuple  # (start, end) of the piece's packets
    count: int  # the piece's packets
    frame: float  # seconds of its longest audio frame

    @property
    def offset(self):
        """Seconds to move the piece by for its audio to start where the source's does."""
        return self.source[0] - self.decoded[0]

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        return cls(source=tuple(data["source"]), decoded=tuple(data["decoded"]), packets=tuple(data["packets"]),
                   count=int(data["count"]), frame=float(data["frame"]))


def measure(ffmpeg, path, workdir, tag="out", sandbox=None, timeout=None, decode_video=True, audio=None):
    """Decode the output at ``path`` (a file, or an HLS variant playlist)
    through the runner and time what it holds; JobFailed when ffmpeg reports
    any error while decoding. ``decode_video=False`` reads the video's
    packets without decoding them (their decoding was checked segment by
    segment: see check_segment). ``audio`` (the AudioCheck of its audio
    piece): the audio's packets are read, not decoded (its decoding was
    checked with the piece), and its audio as heard is the packets' span
    moved by the piece's own decoded-to-packet offsets."""
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
            "-map", "0:V:0", *(["-map", "0:a:0?"] if audio is not None else []), "-c", "copy",
            "-f", "framecrc", stored]
    listings = ["stored"]
    if decode_video or audio is None:
        listings.append("decoded")
        argv += [*(["-map", "0:V:0"] if decode_video else []), *(["-map", "0:a:0?"] if audio is None else []),
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
    for name in listings:
        listing = stored if name == "stored" else decoded
        with open(listing, encoding="utf-8") as f:
            found[name] = list(packets(f.read()))
        os.unlink(listing)
    video = [(t, d) for kind, t, d, _ in found["stored"] if kind == "video"]
    if decode_video and len(video) != sum(1 for kind, *_ in found["decoded"] if kind == "video"):
        raise JobFailed("the stitched output holds video packets that do not decode to frames",
                        code="ENCODE_FAILED")
    if not video:
        raise JobFailed("the stitched output has no video frame", code="ENCODE_FAILED")
    if audio is None:
        heard = [(t, d) for kind, t, d, _ in found["decoded"] if kind == "audio"]
        span = (min(t for t, _ in heard), max(t + d for t, d in heard)) if heard else None
        frame, count = max((d for _, d in heard), default=0.0), None
    else:
        stored_audio = [(t, d) for kind, t, d, _ in found["stored"] if kind == "audio"]
        span = None
        if stored_audio:
            first, last = min(t for t, _ in stored_audio), max(t + d for t, d in stored_audio)
            span = (first + audio.decoded[0] - audio.packets[0], last + audio.decoded[1] - audio.packets[1])
        frame, count = audio.frame, len(stored_audio)
    return Measured(
        frames=len(video),
        video=(min(t for t, _ in video), max(t for t, _ in video)),
        times=tuple(sorted(t for t, _ in video)),
        audio=span,
        audio_frame=frame,
        audio_packets=count,
    )


def problems(measured, scan, priming=False, audio=None):
    """What differs between ``measured`` (an output) and ``scan`` (its
    source), as sentences; empty when the output is whole. ``priming``: the
    output's container keeps the audio encoder's priming samples (MPEG-TS,
    so HLS), which start its audio up to one more frame early. ``audio``:
    the AudioCheck of its audio piece, which says where the source's audio
    is (else ``scan.audio`` does) and how many packets the output must hold."""
    found = []
    source_audio = audio.source if audio is not None else scan.audio
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
    if source_audio is not None:
        if measured.audio is None:
            found.append("it has no audio where the source has")
        elif audio is not None and measured.audio_packets != audio.count:
            found.append(f"it has {measured.audio_packets} audio packets where its audio piece has {audio.count}")
        else:
            frame = measured.audio_frame + _SLACK
            for word, ours, theirs, slack in (  # relative to the first and the last frame
                ("starts", measured.audio[0] - measured.video[0], source_audio[0] - scan.start,
                 frame + (measured.audio_frame if priming else 0)),
                ("ends", measured.audio[1] - measured.video[1], source_audio[1] - scan.frames[-1], frame),
            ):
                if abs(ours - theirs) > slack:
                    found.append(f"its audio {word} {ours:+.3f} s from its video where the source's "
                                 f"{word} {theirs:+.3f} s from its video")
    return found


def check_segment(ffmpeg, path, segment, workdir, sandbox=None, timeout=None, decode=SEGMENT_DECODE):
    """Decode the encoded ``segment`` (a segments.Segment) at ``path`` whole,
    on the encoder that made it, and raise JobFailed (ENCODE_FAILED) when it
    does not decode cleanly or holds other than its frames. The stitch
    copies these very packets, so its own check need not decode the video
    again (check with ``decode_video=False``). ``decode``: the decoder's
    options (SEGMENT_DECODE; () decodes as ffmpeg would by default)."""
    tag = f"segment-{segment.index:05d}"
    folder = os.path.abspath(workdir)
    os.makedirs(folder, exist_ok=True)
    listing = os.path.join(folder, CHECK_FILE.format(tag=tag))
    argv = [ffmpeg, *GLOBAL_ARGS, "-v", "error", "-xerror", "-protocol_whitelist", "file", *decode,
            "-i", os.path.abspath(path), "-map", "0:V:0", "-c:v", "wrapped_avframe", "-f", "framecrc", listing]
    try:
        result = FfmpegRun(argv, cwd=folder, sandbox=sandbox, timeout=timeout).run()
        errors = [ln for ln in result.stderr_tail.splitlines() if ln.strip()]
        with open(listing, encoding="utf-8") as f:
            frames = sum(1 for kind, *_ in packets(f.read()) if kind == "video")
    except JobFailed as e:
        if e.code != "ENCODE_FAILED":
            raise
        errors, frames = [str(e)], None  # -xerror: the decoder's error stopped it
    finally:
        if os.path.exists(listing):
            os.unlink(listing)
    if errors:
        raise JobFailed(f"segment {segment.index} does not decode cleanly: " + " / ".join(errors[-5:]),
                        code="ENCODE_FAILED")
    if frames != segment.frames:
        raise JobFailed(f"segment {segment.index} has {frames} frames where it should have {segment.frames}",
                        code="ENCODE_FAILED")
    return frames


def source_audio_args(folder):
    """ffmpeg output arguments to add to the audio piece's run: the source's
    first audio stream decoded, listed in ``folder``/SOURCE_AUDIO_FILE
    (decoded, so that its times are those a player hears, without the
    source's own encoder priming), by the decode that feeds the encode.
    Makes ``folder``."""
    os.makedirs(folder, exist_ok=True)
    return ["-map", "0:a:0", "-c:a", "pcm_s16le", "-f", "framecrc",
            os.path.join(os.path.abspath(folder), SOURCE_AUDIO_FILE)]


def check_audio(ffmpeg, path, folder, workdir, sandbox=None, timeout=None):
    """Check the audio piece at ``path`` on the encoder that made it: decode
    it whole (JobFailed, ENCODE_FAILED, on any decoder error) and compare
    it with the source's audio listed in ``folder`` by its run
    (source_audio_args): it must last as long as the source's, within one
    audio frame. Returns the AudioCheck that the stitch's check
    uses instead of decoding the audio again (its ``offset`` is for the
    stitch: stitch.stitch_argv)."""
    with open(os.path.join(os.path.abspath(folder), SOURCE_AUDIO_FILE), encoding="utf-8") as f:
        source = [(t, d) for kind, t, d, _ in packets(f.read()) if kind == "audio"]
    if not source:
        raise JobFailed("the source's audio decodes to nothing", code="ENCODE_FAILED")
    work = os.path.abspath(workdir)
    os.makedirs(work, exist_ok=True)
    stored = os.path.join(work, CHECK_FILE.format(tag="audio-packets"))
    decoded = os.path.join(work, CHECK_FILE.format(tag="audio-decoded"))
    argv = [ffmpeg, *GLOBAL_ARGS, "-v", "error", "-xerror", "-protocol_whitelist", "file",
            "-i", os.path.abspath(path), "-map", "0:a:0", "-c", "copy", "-f", "framecrc", stored,
            "-map", "0:a:0", "-c:a", "pcm_s16le", "-f", "framecrc", decoded]
    try:
        result = FfmpegRun(argv, cwd=work, sandbox=sandbox, timeout=timeout).run()
        errors = [ln for ln in result.stderr_tail.splitlines() if ln.strip()]
        found = {}
        for name, listing in (("stored", stored), ("decoded", decoded)):
            with open(listing, encoding="utf-8") as f:
                found[name] = [(t, d) for kind, t, d, _ in packets(f.read()) if kind == "audio"]
    except JobFailed as e:
        if e.code != "ENCODE_FAILED":
            raise
        errors, found = [str(e)], {}
    finally:
        for listing in (stored, decoded):
            if os.path.exists(listing):
                os.unlink(listing)
    if errors:
        raise JobFailed("the audio piece does not decode cleanly: " + " / ".join(errors[-5:]), code="ENCODE_FAILED")
    if not found["decoded"] or not found["stored"]:
        raise JobFailed("the audio piece holds no audio", code="ENCODE_FAILED")
    span = lambda frames: (min(t for t, _ in frames), max(t + d for t, d in frames))  # noqa: E731
    made = AudioCheck(source=span(source), decoded=span(found["decoded"]), packets=span(found["stored"]),
                      count=len(found["stored"]), frame=max(d for _, d in found["decoded"]))
    # A container may move a lone audio track to start at zero (MP4 does):
    # the stitch puts it back where the source's starts (``offset``), so
    # what must hold here is that it lasts as long, within one audio frame.
    ours, theirs = made.decoded[1] - made.decoded[0], made.source[1] - made.source[0]
    if abs(ours - theirs) > made.frame + _SLACK:
        raise JobFailed(f"the audio piece lasts {ours:.3f} s where the source's audio lasts {theirs:.3f} s",
                        code="ENCODE_FAILED")
    return made


def check(ffmpeg, path, scan, workdir, tag="out", sandbox=None, timeout=None, decode_video=True, audio=None):
    """Measure the output at ``path`` (a file, or an HLS variant playlist)
    and raise JobFailed (ENCODE_FAILED) unless it is whole against ``scan``;
    returns the Measured. ``decode_video=False`` when every segment passed
    check_segment; ``audio``: the AudioCheck of its audio piece (check_audio),
    so that its audio is read from its packets, not decoded."""
    measured = measure(ffmpeg, path, workdir, tag, sandbox, timeout, decode_video, audio)
    found = problems(measured, scan, priming=str(path).endswith(".m3u8"), audio=audio)
    if found:
        raise JobFailed("the stitched output is not whole: " + "; ".join(found), code="ENCODE_FAILED")
    return measured
