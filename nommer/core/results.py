"""What each made output is, as a MediaConvert completion event tells it:
its files, size, duration, picture size and average bitrate, read from the
files themselves (each is probed with ffmpeg after encoding).

:func:`describe` looks at the output in the work folder; :func:`result`
adds where its files were stored.
"""

import os

from nommer.core.ffmpeg import probe
from nommer.core.ffmpeg.hls_master import ensure_master, media_segments
from nommer.core.ffmpeg.ladder import MASTER
from nommer.core.storage import folder_files


def describe(ffmpeg_exe, target, sandbox=None):
    """Facts about the output ``target`` (a command.Target) made in the work
    folder; ``sandbox`` confines the probes."""
    if not target.folder:
        size = os.path.getsize(target.path)
        facts = _media(probe(ffmpeg_exe, target.path, own=True, sandbox=sandbox), size, still=_still(target))
        return {"size": size, **facts}
    if target.requested.kind == "hls":
        return _hls(ffmpeg_exe, target.path, sandbox)
    return _images(ffmpeg_exe, target.path, sandbox)


def result(facts, stored, destination):
    """The ``result`` of an output: ``facts`` with the stored files' URIs.

    ``stored`` is [(uri, bytes)] as the Storage port returns it.
    """
    made = {k: v for k, v in facts.items() if k != "renditions"}
    made["files"] = [uri for uri, _ in stored]
    made["size"] = sum(size for _, size in stored)
    if "renditions" in facts:
        made["playlist"] = destination + MASTER
        made["renditions"] = [
            {**{k: v for k, v in r.items() if k != "playlist"}, "playlist": destination + r["playlist"]}
            for r in facts["renditions"]
        ]
    return made


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
    renditions = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".m3u8") or name == MASTER:
            continue
        segments = media_segments(os.path.join(folder, name))
        size = sum(os.path.getsize(os.path.join(folder, seg)) for seg, _ in segments)
        info = probe(ffmpeg_exe, os.path.join(folder, name), own=True, sandbox=sandbox)
        renditions.append({"name": name[: -len(".m3u8")], "playlist": name, **_media(info, size)})
    renditions.sort(key=lambda r: -(r["height"] or 0) * (r["width"] or 0))
    ensure_master(folder, MASTER, renditions)
    top = renditions[0] if renditions else {}
    return {
        "size": sum(os.path.getsize(os.path.join(folder, f)) for f in folder_files(folder)),
        "duration": top.get("duration"),
        "width": top.get("width"),
        "height": top.get("height"),
        "bitrate": top.get("bitrate"),
        "renditions": renditions,
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
    }
