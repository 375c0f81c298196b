"""Arguments of the DASH and CMAF ladders, and reading what they made.

The same H.264 renditions as the HLS ladder (ladder.H264_LADDER, those larger
than the source left out), made by ffmpeg's ``dash`` muxer as fragmented MP4:
an init segment and numbered media segments per representation, the video
renditions in one AdaptationSet (switchable: a key frame at every segment
boundary) and the audio, once, in another. The CMAF preset asks the same
muxer for HLS playlists too (``-hls_playlist 1``), so one set of segments
plays through both the DASH manifest and the HLS master playlist.

Text subtitles of the source become WebVTT sidecars listed by both
manifests (see captions).
"""

import os
import re
import xml.etree.ElementTree as ET

from nommer.core.ffmpeg import captions
from nommer.core.ffmpeg.ladder import (
    MASTER, SEGMENT_SECONDS, has_audio, renditions_args, rungs_for, video_stream,
)
from nommer.core.ffmpeg.sizing import fitted_size

MPD = "manifest.mpd"
INIT_NAME = "init-$RepresentationID$.$ext$"
MEDIA_NAME = "chunk-$RepresentationID$-$Number%05d$.$ext$"
_NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def _args(folder, probe, labels, hls, extra=()):
    rungs = rungs_for(probe)
    audio = has_audio(probe) or not probe
    labels = labels or {}
    # The sidecars are outputs of their own: before the manifest, which ends the list.
    args = captions.sidecar_args(folder, probe, extra)
    for i, _ in enumerate(rungs):
        args += ["-map", f"[{labels[i]}]" if i in labels else "0:V:0"]
    if audio:
        args += ["-map", "0:a:0"]
    args += renditions_args(rungs, labels, audio)
    args += _same_aspect(probe, rungs)
    sets = "id=0,streams=v" + (" id=1,streams=a" if audio else "")
    args += [
        "-f", "dash",
        "-dash_segment_type", "mp4",
        "-seg_duration", str(SEGMENT_SECONDS),
        "-use_template", "1", "-use_timeline", "1",
        "-adaptation_sets", sets,
        "-init_seg_name", INIT_NAME,
        "-media_seg_name", MEDIA_NAME,
    ]
    if hls:
        args += ["-hls_playlist", "1", "-hls_master_name", MASTER]
    return args + [os.path.join(folder, MPD)]


def _same_aspect(probe, rungs):
    """``-aspect`` for every rendition: the largest one's picture shape.

    The renditions of one AdaptationSet must show the same aspect ratio, and
    even sizes rarely keep it exactly (16:9 at 480 lines is 853.3 pixels
    wide, made 854): ffmpeg's dash muxer refuses such a set. Each smaller
    rendition is tagged with the largest one's display aspect ratio, a pixel
    shape off square by a fraction of a percent (854x480 shows as 853.3x480).
    """
    stream = video_stream(probe)
    if stream is None or len(rungs) < 2:
        return []
    size = fitted_size(stream, rungs[0].side)
    if not size or not all(size):
        return []
    width, height = size
    args = []
    for i in range(len(rungs)):
        args += [f"-aspect:v:{i}", f"{width}:{height}"]
    return args


def cmaf_args(folder, probe, output, labels=None, captions=()):
    """The CMAF ladder's output arguments: fMP4 segments, a DASH manifest
    and an HLS master playlist over them (``captions``: see ladder.hls_args)."""
    return _args(folder, probe, labels, True, captions)


def dash_args(folder, probe, output, labels=None, captions=()):
    """The DASH ladder's output arguments: fMP4 segments and a DASH manifest."""
    return _args(folder, probe, labels, False, captions)


cmaf_args.cascades = True
dash_args.cascades = True


def seconds(text):
    """Seconds of an xs:duration such as ``PT1H2M3.5S``."""
    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", (text or "").strip())
    if not m:
        return None
    days, hours, minutes, secs = (float(g) if g else 0.0 for g in m.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + secs


def representations(mpd_path):
    """What the DASH manifest at ``mpd_path`` lists: one dict per
    Representation, in order, with id, content (video, audio or text),
    mime type, width, height, bandwidth, and its files: ``init`` (or None)
    and ``segments`` [(name, seconds)], or for a text sidecar its one file."""
    root = ET.parse(mpd_path).getroot()
    made = []
    for period in root.findall("d:Period", _NS):
        for aset in period.findall("d:AdaptationSet", _NS):
            for rep in aset.findall("d:Representation", _NS):
                mime = rep.get("mimeType") or aset.get("mimeType") or ""
                content = aset.get("contentType") or mime.split("/", 1)[0]
                item = {
                    "id": rep.get("id"), "content": content, "mime": mime,
                    "width": _int(rep.get("width")), "height": _int(rep.get("height")),
                    "bandwidth": _int(rep.get("bandwidth")), "language": aset.get("lang"),
                    "init": None, "segments": [],
                }
                template = rep.find("d:SegmentTemplate", _NS)
                if template is None:
                    template = aset.find("d:SegmentTemplate", _NS)
                base = rep.find("d:BaseURL", _NS)
                if template is not None:
                    item["init"], item["segments"] = _template_files(template, rep.get("id"))
                elif base is not None and (base.text or "").strip():
                    item["segments"] = [(base.text.strip(), None)]
                made.append(item)
    return made


def _template_files(template, rep_id):
    scale = int(template.get("timescale") or 1)
    number = int(template.get("startNumber") or 1)
    init = _fill(template.get("initialization"), rep_id, number) if template.get("initialization") else None
    timeline = template.find("d:SegmentTimeline", _NS)
    segments = []
    if timeline is None:
        raise ValueError("a SegmentTemplate without a SegmentTimeline")
    for s in timeline.findall("d:S", _NS):
        d = int(s.get("d"))
        for _ in range(int(s.get("r") or 0) + 1):
            segments.append((_fill(template.get("media"), rep_id, number), d / scale))
            number += 1
    return init, segments


def _fill(pattern, rep_id, number):
    def value(m):
        name, fmt = m["name"], m["fmt"]
        if name == "RepresentationID":
            return rep_id
        if name == "Number":
            return (fmt % number) if fmt else str(number)
        raise ValueError(f"template identifier ${name}$ is not one nommer writes")

    return re.sub(r"\$(?P<name>RepresentationID|Number|Bandwidth|Time)(?P<fmt>%0\d+d)?\$", value, pattern)


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
