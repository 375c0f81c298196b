"""What an MP4 or MOV file that ffmpeg just wrote holds, read from its
boxes rather than by running ffmpeg again.

Describing an output (model/results.py) needs its duration and the picture
size of its video; an ffmpeg run for that costs a process start, about as
much as the encode of a one-second clip adds on top of it. For the files
ffmpeg's own MP4 muxer writes, the movie header (``mvhd``) holds the
duration ffmpeg would report, and each video track's sample description
(``stsd``) the width and height. :func:`describe` answers what
``probe.probe`` would, or None whenever the file is anything else (a
fragmented file, several video tracks, a box it does not expect), and then
the caller probes. It reads at most a few boxes' headers and the ``moov``
box, never trusting a size beyond the file.
"""

import os
import struct

# ffmpeg prints a duration in hundredths of a second, rounded as
# av_dump_format does: + 5 ms, then cut.
_HUNDREDTHS = 100
MAX_MOOV_BYTES = 16 * 1024 * 1024  # an hours-long file's moov is a few MB
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_VISUAL = {b"avc1", b"avc3", b"hvc1", b"hev1", b"av01", b"vp09", b"mp4v", b"jpeg", b"mjpa", b"apcn",
           b"apch", b"apcs", b"apco", b"ap4h", b"dvh1", b"dvhe"}


def _read_moov(path):
    """The bytes of the ``moov`` box of the file at ``path``, or None."""
    try:
        with open(path, "rb") as f:
            return _find_moov(f, os.fstat(f.fileno()).st_size)
    except OSError:
        return None


def describe(path):
    """``{"duration", "streams"}`` of the MP4/MOV file at ``path`` as
    probe.probe gives them (duration in seconds to the hundredth; one
    stream dict per video track with type, width and height; one per
    audio track with type), or None when it cannot tell."""
    moov = _read_moov(path)
    if moov is None:
        return None
    try:
        return _from_moov(moov)
    except (struct.error, ValueError, IndexError):
        return None


#: ffmpeg's demuxer names for what :func:`guess` reads.
MOV_DEMUXER = "mov,mp4,m4a,3gp,3g2,mj2"


def guess(path):
    """What probe.probe will most likely say of the MP4/MOV source at
    ``path``, in its shape (every key of a stream there, None where the
    boxes do not say), or None when it cannot tell: anything but MP4/MOV,
    a fragmented file, a track other than one video and any audio, cover
    art (ffmpeg shows it as a further video stream). A guess, read from
    a file nobody checked: what ffmpeg then says of the file is what
    counts (encoder/encode.py compares them)."""
    moov = _read_moov(path)
    if moov is None:
        return None
    try:
        found = _from_moov(moov, others=False)
        if found is None or any(kind == b"udta" and b"covr" in moov[a:b] for kind, a, b in _boxes(moov)):
            return None
    except (struct.error, ValueError, IndexError):
        return None
    streams = []
    for index, stream in enumerate(found["streams"]):
        if stream["type"] == "video":
            streams.append({"index": index, "type": "video", "codec": None, "width": stream["width"],
                            "height": stream["height"], "fps": None, "pix_fmt": None, "sar": None,
                            "attached_pic": False, "profile": None})
        else:
            streams.append({"index": index, "type": "audio", "codec": None, "sample_rate": None,
                            "channels": None})
    return {"container": MOV_DEMUXER, "duration": found["duration"], "bitrate": None, "streams": streams}


def _boxes(data, start=0, end=None):
    """(type, payload start, payload end) of each box in data[start:end]."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, at + 8)[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise ValueError("a box runs past its parent")
        yield kind, at + header, at + size
        at += size


def _find_moov(f, file_size):
    at = 0
    while at + 8 <= file_size:
        f.seek(at)
        head = f.read(16)
        if len(head) < 8:
            return None
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1 and len(head) == 16:
            size, header = struct.unpack_from(">Q", head, 8)[0], 16
        elif size == 0:
            size = file_size - at
        if size < header or at + size > file_size:
            return None
        if kind == b"moov":
            if size > MAX_MOOV_BYTES:
                return None
            data = f.read(size - 16)
            return head[header:] + data if header == 8 else data
        if kind == b"moof":
            return None  # fragmented: ffmpeg reads its duration another way
        at += size
    return None


def _from_moov(moov, others=True):
    """The description in ``moov``; None when it cannot tell, or (``others``
    false) when a track is neither video nor audio."""
    duration, streams, videos = None, [], 0
    for kind, start, end in _boxes(moov):
        if kind == b"mvex":
            return None  # fragmented
        if kind == b"mvhd":
            version = moov[start]
            if version == 1:
                timescale, length = struct.unpack_from(">IQ", moov, start + 20)
            else:
                timescale, length = struct.unpack_from(">II", moov, start + 12)
            if not timescale:
                return None
            micros = length * 1_000_000 // timescale
            duration = ((micros + 5000) // 10_000) / _HUNDREDTHS
        elif kind == b"trak":
            stream = _track(moov, start, end)
            if stream is None:
                return None
            if stream["type"] == "video":
                videos += 1
            if stream["type"] in ("video", "audio"):
                streams.append(stream)
            elif not others:
                return None
    if duration is None or videos > 1:
        return None
    return {"duration": duration or None, "streams": streams}


def _track(moov, start, end):
    handler, sample = None, None
    stack = [(start, end)]
    while stack:
        s, e = stack.pop()
        for kind, a, b in _boxes(moov, s, e):
            if kind in _CONTAINERS:
                stack.append((a, b))
            elif kind == b"hdlr":
                handler = moov[a + 8:a + 12]
            elif kind == b"stsd":
                count = struct.unpack_from(">I", moov, a + 4)[0]
                if count != 1:
                    return None
                entries = list(_boxes(moov, a + 8, b))
                sample = (entries[0][0], moov[entries[0][1]:entries[0][2]]) if entries else None
    if handler == b"soun":
        return {"type": "audio"}
    if handler != b"vide":
        return {"type": "other"}
    if sample is None or sample[0] not in _VISUAL:
        return None
    # A visual sample entry: 6 reserved, data reference index, 16 bytes of
    # predefined and reserved, then width and height.
    width, height = struct.unpack_from(">HH", sample[1], 24)
    return {"type": "video", "width": width, "height": height, "attached_pic": False}
