"""What a source file holds, read from ``ffmpeg -i`` (this ffmpeg has no ffprobe).

With an input and no output, ffmpeg describes the input on stderr and exits 1
("At least one output file must be specified"); that is the normal case here.
"""

import dataclasses
import os
import re
import subprocess

from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import sources
from nommer.core.ffmpeg.runner import sandbox_failure
from nommer.core.ffmpeg.sandbox import EXIT_SANDBOX

_INPUT = re.compile(r"^Input #0, (?P<formats>.+?), from ")
_DURATION = re.compile(r"^\s*Duration: (?P<duration>[^,]+)(?:, start: [^,]+)?(?:, bitrate: (?P<bitrate>.+))?$")
_STREAM = re.compile(r"^\s*Stream #0:(?P<index>\d+)(?P<tags>\S*): (?P<kind>\w+): (?P<rest>.*)$")
# "Stream #0:2(eng): ...": the stream's language tag, when it has one.
_LANGUAGE = re.compile(r"\((?P<language>[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*)\)")
_KINDS = {"Video": "video", "Audio": "audio", "Subtitle": "subtitle", "Data": "data", "Attachment": "attachment"}
_CHANNELS = {
    "mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3, "4.0": 4, "quad": 4,
    "quad(side)": 4, "3.1": 4, "4.1": 5, "5.0": 5, "5.0(side)": 5, "5.1": 6,
    "5.1(side)": 6, "6.0": 6, "6.1": 7, "7.0": 7, "7.1": 8, "7.1(wide)": 8,
    "7.1(wide-side)": 8, "octagonal": 8, "downmix": 2,
}
_NOISE = ("At least one output file must be specified",)


def probe(ffmpeg, path, timeout=30, own=False, sandbox=None):
    """Describe the media file at ``path``.

    Returns ``{"container", "duration", "bitrate", "streams"}``: container is
    ffmpeg's demuxer names (``"mov,mp4,m4a,3gp,3g2,mj2"``), duration seconds
    or None, bitrate bits/s or None, and per stream a dict of index, type
    (video, audio, subtitle, data or attachment), codec and, as they apply,
    width, height, fps, pix_fmt, sar (pixel aspect "n:d"), attached_pic,
    sample_rate, channels; a video stream's ``start`` (seconds) where ffmpeg
    prints one (MPEG-TS, HLS); a subtitle stream's ``language`` (its tag or None).

    Raises JobFailed with code SOURCE_NOT_FOUND, SOURCE_UNREADABLE,
    SOURCE_UNSAFE (a playlist, list or other format that opens further files:
    see ``sources``) or PROBE_TIMEOUT, its message fit for the job's details.
    ``own=True`` is for files nommer made itself (an HLS output's playlists):
    they may be playlists, and may open files beside them, but still no
    protocol other than ``file``. ``sandbox`` (a runner.Sandbox) confines
    ffmpeg: it reads an untrusted file; CONFINEMENT_UNAVAILABLE when it
    cannot be set up.
    """
    path = os.path.abspath(path)  # a leading "/" stops "a:b.mp4" reading as protocol "a"
    if not os.path.exists(path):
        raise JobFailed("source file was not found (was the download lost?)", code="SOURCE_NOT_FOUND")
    if not own:
        sources.check_file(path)
    guard = ("-protocol_whitelist", "file") if own else sources.INPUT_GUARD
    argv = [ffmpeg, "-hide_banner", "-nostdin", *guard, "-i", path]
    try:
        done = _run(argv, timeout, sandbox)
    except subprocess.TimeoutExpired:
        raise JobFailed(f"ffmpeg could not read the source within {timeout:g} s", code="PROBE_TIMEOUT") from None
    stderr = done.stderr.decode("utf-8", "replace")
    info = parse_probe(stderr)
    if info is None:
        if "not on whitelist" in stderr:
            raise sources.unsafe("in a format nommer does not read (it reads: "
                                 + ", ".join(sources.SOURCE_FORMATS) + ")")
        reason = _last_meaningful(stderr)
        if "No such file or directory" in reason:
            raise JobFailed("source file was not found (was the download lost?)", code="SOURCE_NOT_FOUND")
        raise JobFailed(f"source is not a media file ffmpeg can read: {reason}", code="SOURCE_UNREADABLE")
    if not own:
        sources.check_container(info["container"])
    return info


def from_header(text):
    """What probe() returns of a source, read from the description of it
    another ffmpeg run printed (runner.FfmpegRun's ``on_header``), or None
    when ``text`` holds none. Raises JobFailed (SOURCE_UNSAFE) as probe()
    does for a container nommer does not read."""
    info = parse_probe(text) if text else None
    if info is not None:
        sources.check_container(info["container"])
    return info


def has_packets(ffmpeg, path, timeout=30, sandbox=None):
    """Whether the media file at ``path`` holds any packet at all.

    For sources whose duration ffmpeg does not know: an empty container
    (no streams, or streams without a single frame) says "Duration: N/A"
    like a raw stream does; copying its first second tells them apart.
    """
    argv = [ffmpeg, "-v", "error", "-nostdin", "-protocol_whitelist", "file",
            "-i", os.path.abspath(path), "-map", "0", "-c", "copy", "-t", "1", "-f", "framecrc", "-"]
    try:
        done = _run(argv, timeout, sandbox)
    except subprocess.TimeoutExpired:
        return True  # slow to read is not empty; the encode will tell
    # framecrc writes "#" header lines, then one line per packet.
    return any(line and not line.startswith(b"#") for line in done.stdout.splitlines())


def _run(argv, timeout, sandbox):
    """ffmpeg run to the end, confined by ``sandbox`` when given (it writes nothing)."""
    if sandbox is None:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    read_only = dataclasses.replace(sandbox, write=(), read=(*sandbox.write, *sandbox.read))
    child = read_only.start(argv, fsize=0)
    try:
        stdout, stderr_bytes = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        if isinstance(child, subprocess.Popen):
            child.communicate()
        raise
    done = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr_bytes)
    stderr = stderr_bytes.decode("utf-8", "replace")
    if done.returncode == EXIT_SANDBOX and "nommer sandbox:" in stderr:
        raise sandbox_failure(stderr.strip()[-500:])
    return done


def parse_probe(stderr):
    """The description in ffmpeg's stderr, or None when it opened no input."""
    info = None
    for line in stderr.splitlines():
        if info is None:
            m = _INPUT.match(line)
            if m:
                info = {"container": m["formats"], "duration": None, "bitrate": None, "streams": []}
            continue
        if line.startswith(("Input #", "Output #", "Stream mapping")):
            break  # only the first input is ours
        if m := _DURATION.match(line):
            info["duration"] = _clock(m["duration"])
            info["bitrate"] = _rate(m["bitrate"])
        elif m := _STREAM.match(line):
            stream = _stream(int(m["index"]), m["kind"], m["rest"])
            if stream["type"] == "subtitle":
                language = _LANGUAGE.search(m["tags"])
                stream["language"] = language["language"] if language else None
            info["streams"].append(stream)
    return info


def _stream(index, kind, rest):
    parts = _split_top(rest)
    codec = parts[0].split(" ", 1)[0] if parts else ""
    stream = {"index": index, "type": _KINDS.get(kind, "data"), "codec": codec}
    if kind == "Video":
        # "h264 (Constrained Baseline) (avc1 / 0x31637661)": the profile, then the tag
        profile = re.match(r"^\S+ \(([^()/]+)\)", parts[0]) if parts else None
        stream.update(width=None, height=None, fps=None, pix_fmt=None, sar=None,
                      attached_pic="(attached pic)" in rest,
                      profile=profile[1] if profile else None)
        for n, part in enumerate(parts[1:], start=1):
            if (m := re.search(r"\bSAR (\d+):(\d+)", part)) and stream["sar"] is None:
                stream["sar"] = f"{m[1]}:{m[2]}"
            if m := re.match(r"^start (-?\d+(?:\.\d+)?)$", part):
                stream["start"] = float(m[1])  # printed for MPEG-TS and HLS: the first frame's time
            elif m := re.match(r"^(\d+)x(\d+)\b", part):
                stream["width"], stream["height"] = int(m[1]), int(m[2])
            elif m := re.match(r"^([\d.]+)(k?) fps\b", part):
                stream["fps"] = float(m[1]) * (1000 if m[2] else 1)
            elif n == 1 and re.match(r"^[a-z0-9_]+(\(.*\))?$", part):
                stream["pix_fmt"] = part.split("(", 1)[0]
    elif kind == "Audio":
        stream.update(sample_rate=None, channels=None)
        for part in parts[1:]:
            if m := re.match(r"^(\d+) Hz$", part):
                stream["sample_rate"] = int(m[1])
            elif part in _CHANNELS:
                stream["channels"] = _CHANNELS[part]
            elif m := re.match(r"^(\d+) channels\b", part):
                stream["channels"] = int(m[1])
    return stream


def _split_top(text):
    """``text`` split at ", " outside parentheses and brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _clock(text):
    m = re.match(r"^(\d+):(\d+):(\d+(?:\.\d+)?)$", text.strip())
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None


def _rate(text):
    m = re.match(r"^(\d+) kb/s", (text or "").strip())
    return int(m[1]) * 1000 if m else None


def _last_meaningful(stderr):
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.strip().startswith(_NOISE)]
    if not lines:
        return "ffmpeg gave no reason"
    # "[in#0 @ 0x...] Error opening input: Invalid data..." -> "Invalid data..."
    last = re.sub(r"^\[[^\]]*\]\s*", "", lines[-1])
    return last.split(": ", 1)[1] if last.startswith("Error opening input") and ": " in last else last
