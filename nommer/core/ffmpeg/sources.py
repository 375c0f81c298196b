"""Which sources ffmpeg may read: media files, never lists of other files.

An HLS playlist, a concat list, an SDP description or an image sequence
makes ffmpeg open the files it names. A crafted "video" of that kind would
read files of the encoder machine into the output (CVE-2016-1898 and its
kin), so a source must be in a plain media format:

- before ffmpeg sees it, its first bytes are read, and the text signatures of
  playlists and lists are refused with a reason (:func:`sniff`);
- ffmpeg opens it with ``-protocol_whitelist file`` and ``-format_whitelist``
  of :data:`SOURCE_FORMATS`, so ffmpeg itself refuses any other demuxer
  (:data:`INPUT_GUARD`);
- the container ffmpeg found is checked against the same list
  (:func:`check_container`).

Every refusal is a JobFailed with code SOURCE_UNSAFE.

Caption files are text by nature, so they have a guard of their own
(:data:`CAPTION_GUARD`): only the SubRip and WebVTT demuxers.
"""

from nommer.core.errors import JobFailed

# ffmpeg demuxer names; a demuxer whose names ("mov,mp4,m4a,...") include one
# of these may read the source. None of them opens other files by default.
SOURCE_FORMATS = (
    "mov", "matroska", "avi", "flv", "mpegts", "mpeg", "mpegvideo", "m4v", "h264",
    "hevc", "vc1", "obu", "ivf", "mp3", "aac", "ac3", "eac3", "dts", "truehd", "flac",
    "ogg", "wav", "w64", "aiff", "caf", "amr", "wv", "ape", "asf", "mxf", "dv", "nut",
    "gif", "yuv4mpegpipe", "rm", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe",
    "tiff_pipe",
)
INPUT_GUARD = (
    "-protocol_whitelist", "file",
    "-format_whitelist", ",".join(SOURCE_FORMATS),
)

# A caption file (an output's ``captions`` option) is read by one of these
# demuxers, named with -f; neither opens any other file. Nothing else is
# admitted for it, whatever the file holds.
CAPTION_FORMATS = ("srt", "webvtt")
CAPTION_GUARD = (
    "-protocol_whitelist", "file",
    "-format_whitelist", ",".join(CAPTION_FORMATS),
)

# (what the first bytes start with, after blanks; what it is)
_SIGNATURES = (
    (b"#EXTM3U", "an HLS playlist (m3u8)"),
    (b"ffconcat", "an ffconcat list"),
    (b"file ", "a concat list"),
    (b"file\t", "a concat list"),
    (b"v=0", "an SDP session description"),
    (b"[playlist]", "a PLS playlist"),
    (b"[Script Info]", "a subtitle script"),
    (b"WEBVTT", "a WebVTT subtitle file"),
    (b"<?xml", "an XML document (a DASH, SMIL or ISM manifest?)"),
    (b"<MPD", "a DASH manifest"),
    (b"<smil", "a SMIL playlist"),
    (b"#EXTINF", "an M3U playlist"),
    (b"#!", "a script"),
)
_SNIFF_BYTES = 4096


def sniff(path):
    """What the file at ``path`` is when it is a playlist, list or other
    text that names files; None when it does not look like one."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    for start, what in _SIGNATURES:
        if stripped[: len(start)].lower() == start.lower():
            return what
    if stripped and _is_text(stripped):
        return "a text file"
    return None


def _is_text(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.97 * len(text)


def unsafe(what):
    return JobFailed(
        f"the source is {what}; nommer reads media files only, never playlists, lists or "
        "other files that make ffmpeg open further files (they could read the encoder's "
        "own files into the output)",
        code="SOURCE_UNSAFE",
    )


def check_file(path):
    """Raise JobFailed (SOURCE_UNSAFE) when the file at ``path`` is text that
    could name other files."""
    what = sniff(path)
    if what is not None:
        raise unsafe(what)


def check_container(container):
    """Raise JobFailed (SOURCE_UNSAFE) unless ffmpeg's demuxer names
    ``container`` include one of SOURCE_FORMATS."""
    names = {n.strip() for n in (container or "").split(",")}
    if not names & set(SOURCE_FORMATS):
        raise unsafe(f"in the {container!r} format, which nommer does not read "
                     f"(it reads: {', '.join(SOURCE_FORMATS)})")
