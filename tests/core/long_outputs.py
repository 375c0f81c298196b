"""What the uploader has in hand after storing a long HLS ladder, without
encoding it: the facts :func:`results.describe` would read from the work
folder and the [(uri, bytes)] the Storage port answers, for hours of
segments. Tests of results and of the job stores share it."""

from nommer.core.model import results
from nommer.core.ffmpeg.ladder import H264_LADDER, MASTER, SEGMENT_SECONDS

ASPECT = 16 / 9


def hls_ladder_upload(destination, hours=3.0, segment_seconds=SEGMENT_SECONDS, rungs=H264_LADDER):
    """``(facts, stored)`` of an HLS output of ``hours`` in ``segment_seconds``
    segments, one rendition per rung, stored under ``destination``."""
    seconds = hours * 3600
    count = int(seconds // segment_seconds)
    renditions, playlists, sizes = [], {}, {}
    for rung in rungs:
        playlist = f"{rung.name}.m3u8"
        bitrate = int(rung.maxrate[:-1]) * 1000 * 3 // 4
        segment_bytes = bitrate * segment_seconds // 8
        segments = [(f"{rung.name}_{i:05d}.ts", float(segment_seconds)) for i in range(count)]
        playlists[playlist] = segments
        sizes.update({name: segment_bytes + i % 977 for i, (name, _) in enumerate(segments)})
        sizes[playlist] = 40 * count + 120
        renditions.append({"name": rung.name, "playlist": playlist, "duration": float(seconds),
                           "width": round(rung.side * ASPECT / 2) * 2, "height": rung.side,
                           "bitrate": bitrate})
    sizes[MASTER] = 120 * len(rungs) + 60
    facts = results.ladder_facts(renditions, playlists, sizes)
    # The upload order of put_folder: media, then variant playlists, then the master.
    order = sorted(sizes, key=lambda n: (n.endswith(".m3u8") + (n == MASTER), n))
    return facts, [(destination + name, sizes[name]) for name in order]
