"""Reading HLS playlists nommer wrote, and writing the master playlist when
ffmpeg could not.

ffmpeg writes the master playlist from the bitrates its encoders announce;
for a source of a few frames they announce none, and the master it writes
lists no rendition. :func:`ensure_master` then writes it from the renditions
as they came out, so that every HLS output plays.
"""

import os


def media_segments(playlist_path):
    """[(segment name, seconds)] listed by the variant playlist at ``playlist_path``."""
    segments, seconds = [], None
    with open(playlist_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                try:
                    seconds = float(line[len("#EXTINF:"):].split(",", 1)[0])
                except ValueError:
                    seconds = None
            elif line and not line.startswith("#"):
                segments.append((line, seconds))
                seconds = None
    return segments


def peak_bitrate(folder, playlist_name):
    """The highest bitrate of any one segment of a variant playlist, bits/s."""
    peak = 0
    for name, seconds in media_segments(os.path.join(folder, playlist_name)):
        if seconds:
            peak = max(peak, int(os.path.getsize(os.path.join(folder, name)) * 8 / seconds))
    return peak


def lists_renditions(master_path):
    try:
        with open(master_path, encoding="utf-8") as f:
            return "#EXT-X-STREAM-INF" in f.read()
    except FileNotFoundError:
        return False


def ensure_master(folder, master_name, renditions):
    """Write ``master_name`` in ``folder`` unless ffmpeg's lists renditions.

    ``renditions`` are dicts with playlist (name in ``folder``), width,
    height and bitrate (average bits/s), largest first. Returns True when
    the master was written here.
    """
    master = os.path.join(folder, master_name)
    if lists_renditions(master):
        return False
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in renditions:
        peak = max(peak_bitrate(folder, r["playlist"]), r.get("bitrate") or 0, 1)
        attrs = f"BANDWIDTH={peak}"
        if r.get("bitrate"):
            attrs += f",AVERAGE-BANDWIDTH={r['bitrate']}"
        if r.get("width") and r.get("height"):
            attrs += f",RESOLUTION={r['width']}x{r['height']}"
        lines += [f"#EXT-X-STREAM-INF:{attrs}", r["playlist"]]
    tmp = master + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, master)
    return True
