"""The ffmpeg runs of an accelerated encode: the segments, the audio, the stitch.

Each run is derived from the very command a normal encode of the output
runs (``command.build_commands``), so a segment is encoded with the same
filters and encoder settings; what changes:

- a segment reads the source from the key frame before its first frame
  (``-ss``, without ffmpeg's own trimming), keeps exactly its frames with a
  ``trim`` filter at the boundaries of segments.plan and restarts their
  times at zero; it has no audio, starts with a forced key frame (every
  encoder starts a closed GOP there: nothing refers back across a cut) and
  x264 is told ``stitchable``, so that every segment's headers are alike;
- a ladder's segment is made for one rendition (``rendition``): the normal
  command's video stream of that number alone, with its own filters (its
  branch of the shared chain of scalers) and encoder settings, so that the
  renditions of one segment are made by several encoders at once;
- the audio is encoded once, from the whole source, with the output's audio
  settings;
- the stitch joins the segments with the concat demuxer and ``-c copy``
  (each segment placed after the previous by the source's own times, so a
  variable frame rate survives), muxes the audio in, and writes the output
  as the normal encode would: MP4 with fast start, WebM, or for the HLS
  ladder the HLS muxer itself (segments and playlists, from stream copies),
  whose 6 s segments fall where the pieces forced key frames; a ladder
  made rendition by rendition has a list of segments per rendition.

Every run goes through the runner (``run``), confined by a runner.Sandbox
like the rest of a job's ffmpeg runs.
"""

import dataclasses
import os
import re

from nommer.core.ffmpeg import verify
from nommer.core.ffmpeg.command import GLOBAL_ARGS, build_commands
from nommer.core.ffmpeg.presets import BUILT_IN_CATALOGUE
from nommer.core.ffmpeg.runner import FfmpegRun

_AUDIO_OPTIONS = frozenset({"-c:a", "-codec:a", "-b:a", "-ac", "-ar", "-af", "-filter:a", "-q:a"})
_HLS_OPTIONS = frozenset({"-hls_time", "-hls_playlist_type", "-hls_flags", "-hls_segment_filename",
                          "-master_pl_name", "-var_stream_map"})
# What the stitch reads: nommer's own files, and the list naming them.
_OWN_FORMATS = "concat,mov,matroska"
_OWN_GUARD = ("-protocol_whitelist", "file", "-format_whitelist", _OWN_FORMATS)
_VIDEO_STREAM_OPTION = re.compile(r"^(-[^:]+):v:(\d+)$")  # -crf:v:2: an option of video stream 2
_LABELS = re.compile(r"\[([^\]]+)\]")
_SPLIT = re.compile(r",split=\d+$")


@dataclasses.dataclass(frozen=True)
class Shape:
    """What an output's normal command makes, as far as stitching goes."""

    hls: bool
    container: str  # of the segments and the audio piece: "mp4" or "webm"
    extension: str  # of the segment files

    @property
    def segment_format(self):
        return self.container


def normal_argv(ffmpeg, source, probe, output, target, workdir, presets=BUILT_IN_CATALOGUE):
    """The argv of the normal encode of ``output`` (a job output dict) to ``target``."""
    plan = build_commands(ffmpeg, source, target, output, workdir, probe=probe, presets=presets)
    return plan.commands[0]


def shape_of(argv):
    _, _, tokens = _split(argv)
    pairs, _ = _pairs(tokens)
    fmt = dict(pairs).get("-f", "mp4")
    if fmt == "hls":
        return Shape(hls=True, container="mp4", extension="mp4")
    if fmt == "webm":
        return Shape(hls=False, container="webm", extension="webm")
    return Shape(hls=False, container="mp4", extension="mp4")


def renditions(normal):
    """How many video streams (renditions, for a ladder) the normal encode
    ``normal`` (its argv) makes."""
    _, _, tokens = _split(normal)
    pairs, _ = _pairs(tokens)
    return sum(1 for o, v in pairs if o == "-map" and _is_video_map(v))


def _is_video_map(value):
    return value.startswith(("0:V", "0:v", "["))


def one_rendition(pairs, rendition):
    """The output options ``pairs`` of a normal encode of several video
    streams, cut down to the video stream ``rendition`` alone (it becomes
    stream 0; the audio maps stay): its map, its options (``-crf:v:2``
    becomes ``-crf:v:0``, the other streams' go), and of a shared chain of
    scalers the branch that feeds it. The per-stream thread counts of a
    shared run go: one encode is best left to ffmpeg's own choice."""
    maps = [v for o, v in pairs if o == "-map" and _is_video_map(v)]
    if not 0 <= rendition < len(maps):
        raise ValueError(f"rendition {rendition} of a command that makes {len(maps)} video streams")
    mine = maps[rendition]
    kept, seen = [], 0
    for opt, value in pairs:
        if opt == "-map" and _is_video_map(value):
            seen += 1
            if seen - 1 != rendition:
                continue
        elif opt == "-filter_complex":
            if not mine.startswith("["):
                continue  # the stream is fed from the source itself
            value = _branch(value, mine[1:-1])
        elif m := _VIDEO_STREAM_OPTION.match(opt):
            if int(m[2]) != rendition or m[1] == "-threads":
                continue
            opt = f"{m[1]}:v:0"
        elif opt.startswith("-threads"):
            continue
        kept.append((opt, value))
    return kept


def _branch(graph, label):
    """The chains of filtergraph ``graph`` (``[in]filters[out]...;...``, a
    chain of scalers as cascade.graph writes it) that lead to ``label``,
    each keeping only the outputs on the way (a split left with one goes)."""
    chains = []
    for text in graph.split(";"):
        inputs = re.match(r"^((?:\[[^\]]+\])*)", text)[1]
        outputs = re.search(r"((?:\[[^\]]+\])*)$", text)[1]
        body = text[len(inputs):len(text) - len(outputs)]
        chains.append((_LABELS.findall(inputs), body, _LABELS.findall(outputs)))
    needed, kept = {label}, []
    for inputs, body, outputs in reversed(chains):
        wanted = [o for o in outputs if o in needed]
        if not wanted:
            continue
        if len(wanted) < len(outputs):
            if not _SPLIT.search(body):
                raise ValueError(f"cannot take one output of the filter chain {body!r}")
            body = _SPLIT.sub("" if len(wanted) == 1 else f",split={len(wanted)}", body)
        needed.update(i for i in inputs if ":" not in i)  # the source's streams are no labels
        kept.append("".join(f"[{i}]" for i in inputs) + body + "".join(f"[{o}]" for o in wanted))
    if not kept:
        raise ValueError(f"no filter chain leads to [{label}]")
    return ";".join(reversed(kept))


def segment_argv(normal, segment, path, last=False, rendition=None):
    """The argv that encodes ``segment`` (a segments.Segment) of the normal
    encode ``normal`` (its argv) to ``path``, video only; of the video
    stream ``rendition`` alone when given (a ladder's rendition)."""
    head, source, tokens = _split(normal)
    shape = shape_of(normal)
    pairs, _ = _pairs(tokens)
    if rendition is not None:
        pairs = one_rendition(pairs, rendition)
    first = segment.first == 0
    # Decoding starts at the key frame (half a millisecond past its time,
    # so that rounding cannot land on the one before); times are then
    # counted from there.
    origin = 0.0 if first else segment.seek + 0.0005
    trim = _trim(None if first else segment.start - origin, None if last else segment.end - origin)
    kept, video_maps, filtered, generic = [], 0, set(), False
    for opt, value in pairs:
        if opt == "-map" and value.startswith("0:a"):
            continue
        if opt in _AUDIO_OPTIONS or opt == "-movflags" or opt in _HLS_OPTIONS:
            continue
        if opt == "-f":
            value = shape.segment_format
        elif opt == "-filter_complex":
            value = value.replace("[0:V:0]", f"[0:V:0]{trim},")
        elif opt in ("-vf", "-filter:v"):
            value, generic = f"{trim},{value}", True
        elif opt.startswith("-filter:v:"):
            value = f"{trim},{value}"
            filtered.add(int(opt.rsplit(":", 1)[1]))
        elif opt == "-map" and (value.startswith("0:V") or value.startswith("0:v")):
            video_maps += 1
        kept.append((opt, value))
    if not generic:
        # Streams mapped straight from the source (not through a filter) get
        # the trim as a filter of their own.
        mapped = [v for o, v in kept if o == "-map"]
        for n, value in enumerate(mapped):
            if (value.startswith("0:V") or value.startswith("0:v")) and n not in filtered:
                kept.append((f"-filter:v:{n}", trim))
    options = dict(kept)
    if not any(o.startswith("-force_key_frames") for o in options):
        kept.append(("-force_key_frames:v", "expr:eq(n,0)"))
    if options.get("-c:v") == "libx264":
        params = options.get("-x264-params")
        kept = [p for p in kept if p[0] != "-x264-params"]
        kept.append(("-x264-params", f"{params}:stitchable=1" if params else "stitchable=1"))
    seek = [] if first else ["-ss", f"{origin:.6f}", "-noaccurate_seek"]
    flat = [a for pair in kept for a in pair]
    return [*head, *seek, "-i", source, *flat, "-an", "-sn", "-dn", os.path.abspath(path)]


def audio_argv(normal, path, listing=()):
    """The argv that encodes the source's audio once, whole, with the normal
    encode's audio settings, to ``path``; None when it makes no audio.
    ``listing``: output arguments of a second output of the same run (the
    source's audio timed for the piece's check: verify.source_audio_args)."""
    head, source, tokens = _split(normal)
    pairs, _ = _pairs(tokens)
    maps = [v.rstrip("?") for o, v in pairs if o == "-map" and v.startswith("0:a")]
    if not maps:
        return None
    kept = [("-map", maps[0])]
    seen = set()
    for opt, value in pairs:
        if opt in _AUDIO_OPTIONS and opt not in seen:
            seen.add(opt)
            kept.append((opt, value))
    kept.append(("-f", shape_of(normal).container))
    return [*head, "-i", source, *[a for p in kept for a in p], "-vn", "-sn", "-dn", os.path.abspath(path),
            *listing]


def concat_list(plan, names):
    """The concat demuxer's list (ffconcat) of the segment files ``names``
    (relative to the list's folder): each lasts as its frames do in the
    source, so the next starts where the source has its first frame."""
    lines = ["ffconcat version 1.0"]
    for segment, name in zip(plan.segments, names):
        if "'" in name or "/" in name or "\n" in name:
            raise ValueError(f"unsafe segment file name {name!r}")
        lines += [f"file '{name}'", f"duration {segment.seconds:.6f}"]
    return "\n".join(lines) + "\n"


def stitch_argv(normal, list_path, audio_path, scan, target, audio_offset=0.0):
    """The argv that joins the segments named in ``list_path`` and the audio
    at ``audio_path`` (None: none) into the output at ``target`` (a folder
    for HLS) as the normal encode ``normal`` would write it. ``scan`` (of
    the source) says when its first frame comes; ``audio_offset`` (seconds,
    verify.AudioCheck.offset) moves the audio to start where the source's
    does. A ladder made rendition by rendition has a list per rendition:
    ``list_path`` is then a list of them, in the order of the normal
    encode's video streams."""
    _, _, tokens = _split(normal)
    shape = shape_of(normal)
    pairs, _ = _pairs(tokens)
    head = [normal[0], *GLOBAL_ARGS]
    # The first frame comes as late after the file's start as in the source.
    offset = ["-itsoffset", f"{scan.start:.6f}"] if scan.start > 0.0005 else []
    lists = [list_path] if isinstance(list_path, (str, os.PathLike)) else list(list_path)
    video = sum(1 for o, v in pairs if o == "-map" and not v.startswith("0:a"))
    if len(lists) > 1 and (not shape.hls or len(lists) != video):
        raise ValueError(f"{len(lists)} lists of segments for an output of {video} video streams")
    argv = list(head)
    for path in lists:
        argv += [*_OWN_GUARD, "-f", "concat", *offset, "-i", os.path.abspath(path)]
    sound = len(lists)  # the input number of the audio
    if audio_path is not None:
        moved = ["-itsoffset", f"{audio_offset:.6f}"] if abs(audio_offset) > 0.0005 else []
        argv += [*_OWN_GUARD, *moved, "-i", os.path.abspath(audio_path)]
    if shape.hls:
        for n in range(video):
            # Each rendition from its own list, or all from the one list.
            stream = f"{n}:v:0" if len(lists) > 1 else f"0:v:{n}"
            argv += ["-map", stream] + (["-map", f"{sound}:a:0"] if audio_path is not None else [])
        argv += ["-c", "copy"]
        hls = [(o, v) for o, v in pairs if o in _HLS_OPTIONS]
        argv += ["-f", "hls", *[a for p in hls for a in p], tokens[-1]]
        os.makedirs(target, exist_ok=True)
        return argv
    argv += ["-map", "0:v:0"] + (["-map", f"{sound}:a:0"] if audio_path is not None else []) + ["-c", "copy"]
    for opt, value in pairs:
        if opt.startswith("-tag:v"):
            argv += [opt, value]
    fmt = dict(pairs).get("-f", "mp4")
    if fmt == "mp4":
        argv += ["-movflags", "+faststart"]
    return [*argv, "-f", fmt, os.path.abspath(target)]


def run(argv, workdir, sandbox=None, timeout=None, duration=None, on_progress=None):
    """Run one of these argvs through the runner, in ``workdir``; a RunResult."""
    os.makedirs(workdir, exist_ok=True)
    return FfmpegRun(argv, duration=duration, on_progress=on_progress, timeout=timeout,
                     cwd=os.path.abspath(workdir), sandbox=sandbox).run()


def _trim(start, end):
    parts = []
    if start is not None:
        parts.append(f"start={start:.6f}")
    if end is not None:
        parts.append(f"end={end:.6f}")
    if not parts:
        return "setpts=PTS-STARTPTS"
    return f"trim={':'.join(parts)},setpts=PTS-STARTPTS"


def _split(argv):
    """(everything before "-i", the source, the output half) of a normal argv."""
    at = argv.index("-i")
    return list(argv[:at]), argv[at + 1], list(argv[at + 2:])


def _pairs(tokens):
    """The output half's options as (option, value) pairs, and its path."""
    body, path = tokens[:-1], tokens[-1]
    if len(body) % 2:
        raise ValueError(f"cannot read the output options as pairs: {body}")
    return [(body[i], body[i + 1]) for i in range(0, len(body), 2)], path


@dataclasses.dataclass(frozen=True)
class Pieces:
    """The runs of one output's accelerated encode, in a work folder."""

    normal: list  # argv of the normal encode
    segments: list  # argv of each segment's encode (a ladder's: each rendition's segments in turn)
    renditions: list  # the rendition each of ``segments`` makes (None: every video stream)
    audio: list | None  # argv of the audio piece, None without audio
    lists: list  # (path, text) of each concat list the stitch reads (a ladder's: one per rendition)
    audio_path: str | None
    stitch: list  # argv of the stitch


def pieces(ffmpeg, source, probe, output, plan, scan, target, workdir, presets=BUILT_IN_CATALOGUE):
    """Every run that makes ``output`` from the segments of ``plan`` (an
    HLS ladder's: each rendition's apart), its intermediate files in
    ``workdir``."""
    folder = os.path.abspath(workdir)
    normal = normal_argv(ffmpeg, source, probe, output, target, os.path.join(folder, "normal"), presets)
    shape = shape_of(normal)
    count = len(plan.segments)
    segs, made_for, lists = [], [], []
    for rendition in (range(renditions(normal)) if shape.hls else [None]):
        tag = "" if rendition is None else f"r{rendition}-"
        names = [f"segment-{tag}{s.index:05d}.{shape.extension}" for s in plan.segments]
        for s, n in zip(plan.segments, names):
            segs.append(segment_argv(normal, s, os.path.join(folder, n), last=s.index == count - 1,
                                     rendition=rendition))
            made_for.append(rendition)
        lists.append((os.path.join(folder, f"segments{'-' + tag[:-1] if tag else ''}.ffconcat"),
                      concat_list(plan, names)))
    audio_path = os.path.join(folder, f"audio.{shape.extension}")
    audio = audio_argv(normal, audio_path, verify.source_audio_args(folder))
    paths = [p for p, _ in lists]
    return Pieces(normal=normal, segments=segs, renditions=made_for, audio=audio, lists=lists,
                  audio_path=audio_path if audio else None,
                  stitch=stitch_argv(normal, paths[0] if len(paths) == 1 else paths,
                                     audio_path if audio else None, scan, target))


def write_list(made):
    """Write the concat lists of ``made`` (a Pieces) where its stitch reads them."""
    for path, text in made.lists:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
