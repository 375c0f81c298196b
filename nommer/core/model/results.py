"""What each made output is, as a MediaConvert completion event tells it:
its files, size, duration, picture size and average bitrate, read from the
files themselves (each is probed with ffmpeg after encoding).

:func:`describe` looks at the output in the work folder; :func:`finish`
turns what was stored into the output's ``result``.

A job record must fit its store whatever the output (a SimpleDB item holds
at most 256 attributes of 1 KiB, a DynamoDB item 400 KB), and a three-hour
HLS ladder has over 7,000 files. So the ``result`` a record keeps is a
summary whose size does not grow with the number of files: at most
:data:`MAX_RESULT_BYTES` of JSON. An output that is a folder of files (HLS,
thumbnails) also gets a manifest, :data:`MANIFEST`, written beside its files
through the same Storage port: every file with its relative path, size,
duration (where known) and content type.

The stored summary names files relative to the output's destination, so
that the destination's length (up to 4096 characters) counts once per
output, not once per name; :func:`shown` turns the names into URIs for the
API.
"""

import json
import os
import re
import xml.etree.ElementTree as ET

from nommer.core.security.credentials import redact
from nommer.core.errors import JobFailed
from nommer.core.ffmpeg import captions, dash, mp4_boxes, probe
from nommer.core.ffmpeg.hls_master import ensure_master, media_segments
from nommer.core.ffmpeg.ladder import MASTER
from nommer.core.model.media_types import media_type
from nommer.core.ports.storage import folder_files

#: The manifest's name in an output folder. ffmpeg writes only .ts, .m4s,
#: .m3u8, .mpd, .vtt and .jpg files there, so it cannot be the name of an
#: output file.
MANIFEST = "nommer-manifest.json"
MANIFEST_VERSION = 1
#: A result lists its files (``files``) only up to this many; a bigger
#: output's files are listed by its manifest alone.
MAX_LISTED_FILES = 10
#: The most bytes of JSON one output's stored result may take.
MAX_RESULT_BYTES = 2048

_MEDIA_FACTS = ("duration", "width", "height", "bitrate")
MP4_EXTENSIONS = ("mp4", "m4v", "m4a", "mov")
# What the extra output options measured (ffmpeg/extras.py), kept as they are.
_MEASURED_FACTS = ("loudness", "quality", "target_vmaf")


def describe(ffmpeg_exe, target, sandbox=None):
    """Facts about the output ``target`` (a command.Target) made in the work
    folder; ``sandbox`` confines the probes.

    A folder output's facts also hold ``durations``: seconds of each file
    whose duration is known ({relative path: seconds}).
    """
    if not target.folder:
        size = os.path.getsize(target.path)
        # An MP4 made here is read from its boxes: no second ffmpeg run.
        info = mp4_boxes.describe(target.path) if target.requested.extension in MP4_EXTENSIONS else None
        if info is None:
            info = probe(ffmpeg_exe, target.path, own=True, sandbox=sandbox)
        facts = _media(info, size, still=_still(target))
        return {"size": size, **facts}
    if target.requested.kind == "hls":
        return _hls(ffmpeg_exe, target.path, sandbox)
    if target.requested.kind in ("cmaf", "dash"):
        return _dash(target.path, hls=target.requested.kind == "cmaf")
    return _images(ffmpeg_exe, target.path, sandbox)


def finish(storage, facts, stored, destination, scratch, cancel=None, about=None):
    """The ``result`` of an output whose files were stored; for a folder
    output, also writes its manifest.

    ``stored`` is [(uri, bytes)] as the Storage port's put or put_folder
    answered, every URI under ``destination``, the URI they were stored
    under (credentials and all; it is used to write, never kept). The
    manifest goes to ``destination + MANIFEST`` through ``storage``, by way
    of the local file ``scratch``, after the files it lists, so a reader
    that finds it finds them. ``about`` (job id, output index, preset) heads
    the manifest.
    """
    files = [(_relative(uri, destination), size) for uri, size in stored]
    folder = destination.endswith("/")
    made = summary(facts, files, folder=folder)
    if folder:
        book = manifest(facts, files, about)
        with open(scratch, "w", encoding="utf-8") as f:
            json.dump(book, f, separators=(",", ":"))
            f.write("\n")
        storage.put(str(scratch), destination + MANIFEST, cancel=cancel)
    return made


def manifest(facts, files, about=None):
    """The manifest of a folder output: ``files`` is [(relative path, bytes)]."""
    if any(name == MANIFEST for name, _ in files):
        raise ValueError(f"an output file is called {MANIFEST}, the manifest's own name")
    durations = facts.get("durations") or {}
    book = {
        "nommer_manifest": MANIFEST_VERSION,
        **(about or {}),
        "file_count": len(files),
        "size": sum(size for _, size in files),
        **{k: facts.get(k) for k in _MEDIA_FACTS},
    }
    if "renditions" in facts:
        book["playlist"] = facts.get("playlist", MASTER)
        for key in ("hls_playlist", "subtitles"):
            if key in facts:
                book[key] = facts[key]
        book["renditions"] = [dict(r) for r in facts["renditions"]]
    book["files"] = [
        {"path": name, "size": size, "duration": durations.get(name), "content_type": media_type(name)}
        for name, size in files
    ]
    return book


def summary(facts, files, folder):
    """The bounded result a job record keeps: ``files`` is [(relative path,
    bytes)] (for a single-file output, one entry whose path is empty)."""
    made = {"size": sum(size for _, size in files), "file_count": len(files),
            **{k: facts.get(k) for k in _MEDIA_FACTS}}
    if "count" in facts:
        made["count"] = facts["count"]
    made.update({k: facts[k] for k in _MEASURED_FACTS if k in facts})
    if "renditions" in facts:
        made["playlist"] = facts.get("playlist", MASTER)
        for key in ("hls_playlist", "subtitles"):
            if key in facts:
                made[key] = facts[key]
        made["renditions"] = [dict(r) for r in facts["renditions"]]
    if folder:
        made["manifest"] = MANIFEST
        if "renditions" not in facts and files:
            made["first"] = files[0][0]
        if len(files) <= MAX_LISTED_FILES:
            made["files"] = [name for name, _ in files]
            if result_bytes(made) > MAX_RESULT_BYTES:
                del made["files"]  # long names: the manifest has them
    if "subtitles" in made and result_bytes(made) > MAX_RESULT_BYTES:
        del made["subtitles"]  # many languages: the manifest has them
    if result_bytes(made) > MAX_RESULT_BYTES:
        raise ValueError(f"an output's result takes {result_bytes(made)} bytes, over {MAX_RESULT_BYTES}")
    return made


def result_bytes(result):
    """Bytes of ``result`` in a job record (stores write json.dumps' ASCII)."""
    return len(json.dumps(result))


def shown(result, destination):
    """``result`` as the API answers it: stored names become URIs under
    ``destination`` (the output's), credentials hidden, and a single-file
    output's ``files`` is its destination.

    Results stored before the summary held names hold URIs throughout;
    they come out as they were stored (redacted again).
    """
    if not result:
        return result
    made = dict(result)

    def uri(name):
        return redact(name if "://" in name else destination + name)

    if "files" in made:
        made["files"] = [uri(f) for f in made["files"]]
    elif not destination.endswith("/"):
        made["files"] = [destination]
    for key in ("playlist", "hls_playlist", "manifest", "first"):
        if made.get(key):
            made[key] = uri(made[key])
    if made.get("subtitles"):
        made["subtitles"] = [{**s, "file": uri(s["file"])} for s in made["subtitles"]]
    if "renditions" in made:
        made["renditions"] = [{**r, "playlist": uri(r["playlist"])} if r.get("playlist") else dict(r)
                              for r in made["renditions"]]
    if "file_count" not in made and "files" in made:
        made["file_count"] = len(made["files"])
    return made


def _relative(uri, destination):
    if not uri.startswith(destination):
        raise ValueError("a stored file is not under its output's destination")
    return uri[len(destination):]


def _still(target):
    return target.requested.extension in ("jpg", "jpeg", "png")


def _video(info):
    return next((s for s in info["streams"] if s["type"] == "video" and not s.get("attached_pic")), None)


def _media(info, size, still=False):
    video = _video(info)
    duration = None if still else info.get("duration")
    return {
        "duration": round(duration, 3) if duration else duration,
        "width": video["width"] if video else None,
        "height": video["height"] if video else None,
        # Over the whole file, container included, as MediaConvert counts it.
        "bitrate": int(size * 8 / duration) if duration else None,
    }


def _hls(ffmpeg_exe, folder, sandbox=None):
    renditions, playlists, start = [], {}, None
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".m3u8") or name == MASTER or name.startswith("subs-"):
            continue
        segments = playlists[name] = media_segments(os.path.join(folder, name))
        size = sum(os.path.getsize(os.path.join(folder, seg)) for seg, _ in segments)
        info = probe(ffmpeg_exe, os.path.join(folder, name), own=True, sandbox=sandbox)
        video = _video(info)
        if start is None and video is not None:
            start = video.get("start")
        renditions.append({"name": name[: -len(".m3u8")], "playlist": name, **_media(info, size)})
    renditions.sort(key=lambda r: -(r["height"] or 0) * (r["width"] or 0))
    ensure_master(folder, MASTER, renditions)
    duration = renditions[0].get("duration") if renditions else None
    captions.add_timestamp_map(folder, start)
    subtitle_lists = captions.add_to_master(folder, MASTER, duration)
    sizes = {f: os.path.getsize(os.path.join(folder, f)) for f in folder_files(folder)}
    facts = ladder_facts(renditions, playlists, sizes)
    _add_subtitles(facts, folder, duration, subtitle_lists)
    return facts


def _add_subtitles(facts, folder, duration, playlists=()):
    """The sidecars of ``folder`` in an output's facts: their names and
    languages, and their durations (the whole output's)."""
    found = captions.sidecars(folder)
    if found:
        facts["subtitles"] = [{"language": language, "file": name} for name, language in found]
        for name in [n for n, _ in found] + list(playlists):
            facts["durations"][name] = duration


def _dash(folder, hls):
    """The facts of a DASH or CMAF output, read from its DASH manifest (and
    for CMAF its HLS master playlist): every representation's files exist
    and its segments' seconds add up to its duration."""
    mpd = os.path.join(folder, dash.MPD)
    try:
        captions.add_to_mpd(folder, dash.MPD)
        listed = dash.representations(mpd)
        with open(mpd, encoding="utf-8") as f:
            total = dash.seconds(_attribute(f.read(), "mediaPresentationDuration"))
    except (OSError, ValueError, ET.ParseError) as e:
        raise JobFailed(f"the DASH manifest ffmpeg wrote cannot be read: {e}", code="ENCODE_FAILED") from None
    made, durations = [], {}
    for rep in listed:
        if rep["content"] not in ("video", "audio"):
            continue
        names = ([rep["init"]] if rep["init"] else []) + [name for name, _ in rep["segments"]]
        missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
        if missing:
            raise JobFailed(f"{dash.MPD} lists {missing[0]}, which ffmpeg did not write", code="ENCODE_FAILED")
        size = sum(os.path.getsize(os.path.join(folder, n)) for n in names)
        seconds = sum(s for _, s in rep["segments"])
        durations.update({name: round(s, 3) for name, s in rep["segments"]})
        video = rep["content"] == "video" and rep["width"] and rep["height"]
        made.append({
            # Named by the short side, as the ladder's rungs are ("720p", portrait or not).
            "name": f"{min(rep['width'], rep['height'])}p" if video else rep["content"],
            "id": rep["id"], "content": rep["content"], "segments": len(rep["segments"]),
            "duration": round(seconds, 3) if seconds else None,
            "width": rep["width"], "height": rep["height"],
            "bitrate": int(size * 8 / seconds) if seconds else None,
        })
    made.sort(key=lambda r: (r["content"] != "video", -(r["height"] or 0)))
    top = made[0] if made else {}
    duration = round(total, 3) if total else top.get("duration")
    durations[dash.MPD] = duration
    facts = {"renditions": made, "playlist": dash.MPD, "durations": durations}
    if hls:
        if not os.path.isfile(os.path.join(folder, MASTER)):
            raise JobFailed(f"ffmpeg wrote no {MASTER} beside {dash.MPD}", code="ENCODE_FAILED")
        facts["hls_playlist"] = MASTER
        playlists = captions.add_to_master(folder, MASTER, duration)
        durations[MASTER] = duration
    else:
        playlists = []
    sizes = {f: os.path.getsize(os.path.join(folder, f)) for f in folder_files(folder)}
    facts.update(size=sum(sizes.values()), duration=duration,
                 **{k: top.get(k) for k in ("width", "height", "bitrate")})
    _add_subtitles(facts, folder, duration, playlists)
    return facts


def _attribute(text, name):
    m = re.search(rf'\b{name}="([^"]*)"', text)
    return m[1] if m else None


def ladder_facts(renditions, playlists, sizes):
    """The facts of an HLS output, from its renditions (name, playlist and
    the probed media facts of each, largest first), the segments each
    variant playlist lists ({playlist: [(segment, seconds)]}) and the bytes
    of every file in its folder ({relative path: bytes})."""
    durations, made = {}, []
    for rendition in renditions:
        segments = playlists[rendition["playlist"]]
        made.append({"name": rendition["name"], "playlist": rendition["playlist"],
                     "segments": len(segments), **{k: rendition.get(k) for k in _MEDIA_FACTS}})
        durations.update({seg: seconds for seg, seconds in segments if seconds is not None})
        durations[rendition["playlist"]] = rendition.get("duration")
    top = made[0] if made else {}
    durations[MASTER] = top.get("duration")
    return {
        "size": sum(sizes.values()),
        **{k: top.get(k) for k in _MEDIA_FACTS},
        "renditions": made,
        "durations": durations,
    }


def _images(ffmpeg_exe, folder, sandbox=None):
    files = folder_files(folder)
    first = _video(probe(ffmpeg_exe, os.path.join(folder, files[0]), own=True, sandbox=sandbox)) if files else None
    return {
        "size": sum(os.path.getsize(os.path.join(folder, f)) for f in files),
        "count": len(files),
        "duration": None,
        "width": first["width"] if first else None,
        "height": first["height"] if first else None,
        "bitrate": None,
        "durations": {},
    }
