"""Turn a job's requested outputs (presets or media-nommer passes) into ffmpeg argv lists.

Outputs made with presets share one ffmpeg run: the source is read and
decoded once, and each output filters and encodes its own copy of the
frames. Outputs given as media-nommer passes run on their own, since their
input options and two-pass logs belong to them alone.
"""

import dataclasses
import os

from nommer.core.errors import InvalidInput, JobFailed
from nommer.core.ffmpeg import captions as captions_mod
from nommer.core.ffmpeg import cascade, images, sources, threads
from nommer.core.ffmpeg import extras as extras_mod
from nommer.core.ffmpeg.legacy_options import EncodeSpec, parse_passes
from nommer.core.ffmpeg.preset import LADDER_KINDS, Preset
from nommer.core.ffmpeg.presets import BUILT_IN_CATALOGUE

# -progress pipe:1 puts key=value progress on stdout, where the runner reads it;
# -nostats keeps stderr for messages only.
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats")
# The source must not make ffmpeg open anything else (see sources.py).
INPUT_GUARD = sources.INPUT_GUARD
# Output fields that are not options of a preset.
OUTPUT_FIELDS = ("destination", "preset", "options")
# Fields the encoder adds as it works.
STATUS_FIELDS = ("state", "result", "error", "error_code", "reason")


@dataclasses.dataclass(frozen=True)
class Plan:
    """The ffmpeg commands of one run, in order (one per pass), in ``workdir``."""

    commands: list  # of argv lists, one per pass
    notes: list  # what was translated or dropped from the user's options
    workdir: str
    outputs: tuple = (0,)  # indices of the job outputs this run makes


@dataclasses.dataclass(frozen=True)
class Requested:
    """One job output, checked: a preset, or media-nommer passes."""

    preset: Preset | None
    spec: EncodeSpec | None
    extras: extras_mod.Extras = extras_mod.Extras()

    @property
    def kind(self):
        return self.preset.kind if self.preset else "file"

    @property
    def writes_folder(self):
        return self.preset is not None and self.preset.writes_folder

    @property
    def label(self):
        return self.preset.name if self.preset else "options"

    @property
    def extension(self):
        return self.preset.extension if self.preset else None


@dataclasses.dataclass(frozen=True)
class Target:
    """Where ffmpeg writes one output in the work folder."""

    index: int
    path: str  # the file, or the folder of a folder kind
    requested: Requested

    @property
    def folder(self):
        return self.requested.writes_folder


def validate_output(output, field="outputs[0]", presets=BUILT_IN_CATALOGUE):
    """Check what ``output`` asks for without building anything.

    ``output`` is a job output dict with exactly one of ``preset`` (a name)
    or ``options`` (media-nommer passes), and the options its preset takes
    (``interval`` for thumbnails); ``destination`` and the encoder's status
    fields are ignored. Returns a :class:`Requested`; raises InvalidInput
    naming the field.
    """
    if not isinstance(output, dict):
        raise InvalidInput(field, "must be an object")
    has_preset, has_options = "preset" in output, "options" in output
    if has_preset and has_options:
        raise InvalidInput(field, "give either 'preset' or 'options', not both")
    if has_preset:
        preset = presets.get(output["preset"], f"{field}.preset")
        requested = Requested(preset, None)
    elif has_options:
        requested = Requested(None, parse_passes(output["options"], f"{field}.options"))
    else:
        raise InvalidInput(
            field,
            "needs 'preset' (one of: " + ", ".join(presets.names()) + ") or 'options' (ffmpeg passes)",
        )
    taken = requested.preset.options if requested.preset else ()
    for key in output:
        if key in OUTPUT_FIELDS or key in STATUS_FIELDS or key in extras_mod.OPTIONS:
            continue
        if key not in taken:
            takers = [p.name for p in presets if key in p.options]
            hint = f"; only {', '.join(takers)} takes it" if takers else ""
            raise InvalidInput(f"{field}.{key}", f"is not an option of {requested.label}{hint}")
    if "interval" in output:
        images.check_interval(output["interval"], f"{field}.interval")
    if "captions" in output:
        captions_mod.check_option(output["captions"], f"{field}.captions")
    found = extras_mod.parse(output, field, requested.preset)
    if found:
        requested = dataclasses.replace(requested, extras=found)
    return requested


def check_source(output, probed, presets=BUILT_IN_CATALOGUE):
    """Raise JobFailed when the probed source cannot make ``output``.

    Only presets say what they need; media-nommer options are taken on trust.
    """
    if isinstance(output, dict) and "preset" in output:
        presets.get(output["preset"]).check_source(probed)
        if "loudness" in output and not any(s["type"] == "audio" for s in (probed or {}).get("streams", ())):
            raise JobFailed("loudness needs an audio stream and the source has none", code="NO_AUDIO_STREAM")


def target_path(workdir, index, requested):
    """The work-folder path of output ``index``: a file, or a folder for folder kinds."""
    if requested.writes_folder:
        return os.path.join(os.path.abspath(workdir), f"out-{index}")
    extension = requested.extension or "mp4"
    return os.path.join(os.path.abspath(workdir), f"out-{index}.{extension}")


@dataclasses.dataclass(frozen=True)
class Tuning:
    """What the encoder decided for one preset output before its encode:
    a CRF in place of the preset's (``target_vmaf``), an audio filter
    (``loudness``, nommer's own text)."""

    crf: int | None = None
    audio_filter: str | None = None

    def apply(self, args):
        """Output ``args`` (ending with the path) tuned."""
        if self.crf is not None:
            args = extras_mod.with_crf(args, self.crf)
        if self.audio_filter is not None:
            args = extras_mod.with_audio_filter(args, self.audio_filter)
        return list(args)


def first_run(outputs, presets=BUILT_IN_CATALOGUE):
    """The indices of the outputs that :func:`plan_job`'s first plan makes:
    every preset output together, or else the first output."""
    shared = [i for i, output in enumerate(outputs)
              if validate_output(output, f"outputs[{i}]", presets).preset is not None]
    return shared or list(range(min(1, len(outputs))))


def plan_job(ffmpeg, source_path, probe, outputs, workdir, presets=BUILT_IN_CATALOGUE, tuning=None,
             captions=None):
    """The runs that make every output of a job, and where each output lands.

    Returns (plans, targets): one Plan for all preset outputs together, one
    per output given as passes; ``targets[i]`` is the Target of output i.
    ``captions`` ({output index: [(local path, "srt" or "webvtt", language)]})
    are the caption files of the outputs' ``captions`` options, downloaded.
    ``tuning`` ({output index: Tuning}) adjusts preset outputs.
    """
    targets = []
    for index, output in enumerate(outputs):
        requested = validate_output(output, f"outputs[{index}]", presets)
        targets.append(Target(index, target_path(workdir, index, requested), requested))
    shared = [t for t in targets if t.requested.preset is not None]
    plans = []
    if shared:
        plans.append(combined_plan(ffmpeg, source_path, probe, outputs, shared, workdir, tuning, captions))
    for t in targets:
        if t.requested.preset is None:
            # A folder of its own: two-pass logs are never shared.
            own = os.path.join(os.path.abspath(workdir), f"passes-{t.index}")
            plans.append(passes_plan(ffmpeg, source_path, t, own))
    return plans, targets


def combined_plan(ffmpeg, source_path, probe, outputs, targets, workdir, tuning=None, captions=None):
    """One ffmpeg run writing every preset output of ``targets``, its video
    encoders sharing the cores (see ``threads``); caption files (see
    plan_job) are further inputs, each read by the output that asked for it."""
    argv = [ffmpeg, *GLOBAL_ARGS, *INPUT_GUARD, "-i", os.path.abspath(source_path)]
    inputs, number = {}, 0  # output index -> [(input number, language)]; the source is input 0
    for t in targets:
        for path, fmt, language in (captions or {}).get(t.index, ()):
            number += 1
            argv += captions_mod.caption_input(path, fmt)
            inputs.setdefault(t.index, []).append((number, language))
    chain, labels = cascade.graph(cascade.sinks_of(targets, probe))
    if chain:
        argv += ["-filter_complex", chain]
    shares = threads.allot(targets, probe)
    for t in targets:
        if t.folder:
            os.makedirs(t.path, exist_ok=True)
        args = _arguments(t, probe, outputs[t.index], labels, inputs.get(t.index, ()))
        if tuning and t.index in tuning:
            args = tuning[t.index].apply(args)
        if t.index in shares:
            # Options go before the output path, which every preset ends with.
            args[-1:-1] = threads.thread_args(shares[t.index])
        argv += args
    return Plan(commands=[argv], notes=[], workdir=os.path.abspath(workdir),
                outputs=tuple(t.index for t in targets))


def _arguments(target, probe, output, labels, extra=()):
    """The target's output arguments, fed from the shared scaler chain where
    it takes part; ``extra`` [(input number, language)] are its caption files."""
    preset = target.requested.preset
    mine = {stream: label for (index, stream), label in labels.items() if index == target.index}
    if preset.kind in LADDER_KINDS:
        return preset.make_args(target.path, probe, output, labels=mine, captions=extra)
    if not mine:
        args = preset.arguments(target.path, probe, output)
        args[-1:-1] = _captions(preset, probe, extra)
        return args
    return cascade.rewrite_file_args(preset.output_args, mine[0]) + _captions(preset, probe, extra) + [target.path]


def _captions(preset, probe, extra=()):
    """Arguments carrying the source's text subtitles and the caption files
    ``extra`` into an MP4 preset's output."""
    if (preset.kind == "file" and preset.extension == "mp4" and preset.make_args is None
            and preset.origin == "built-in"):
        return captions_mod.mp4_args(probe, extra)
    return []


def passes_plan(ffmpeg, source_path, target, workdir):
    """The one or two runs of an output given as media-nommer passes; a
    two-pass encode keeps its pass log in ``workdir``."""
    spec = target.requested.spec
    source = os.path.abspath(source_path)
    own = os.path.abspath(workdir)
    passlog = os.path.join(own, "passlog")
    two_pass = len(spec.passes) == 2
    commands = []
    for n, (input_args, output_args) in enumerate(spec.passes, start=1):
        last = n == len(spec.passes)
        if last and spec.faststart:
            output_args = _with_faststart(output_args)
        # The guard goes last before "-i": it belongs to the source's group of
        # options whatever came before, and overrides anything set there.
        argv = [ffmpeg, *GLOBAL_ARGS, *input_args, *INPUT_GUARD, "-i", source, *output_args]
        if two_pass:
            argv += ["-pass", str(n), "-passlogfile", passlog]
        if last:
            argv.append(target.path)
        else:
            # The first pass only writes its log; ffmpeg keeps the last -f given.
            argv += ["-an", "-f", "null", os.devnull]
        commands.append(argv)
    return Plan(commands=commands, notes=list(spec.notes), workdir=own, outputs=(target.index,))


def build_commands(ffmpeg, source_path, output_path, output, workdir, field="outputs[0]",
                   probe=None, presets=BUILT_IN_CATALOGUE, captions=(), tuning=None):
    """The Plan that makes one ``output`` at ``output_path`` (a folder for
    folder kinds). Paths are made absolute so that a name like ``a:b.mp4``
    is never read as a protocol."""
    requested = validate_output(output, field, presets)
    target = Target(0, os.path.abspath(output_path), requested)
    if requested.preset is None:
        plan = passes_plan(ffmpeg, source_path, target, workdir)
    else:
        own = {0: tuning} if tuning is not None else None
        plan = combined_plan(ffmpeg, source_path, probe, [output], [target], workdir, own,
                             {0: list(captions)} if captions else None)
    return plan


def _with_faststart(args):
    """Output ``args`` with +faststart added to their -movflags, or given one."""
    args = list(args)
    for i in range(len(args) - 1):
        if args[i] == "-movflags":
            if "faststart" not in args[i + 1]:
                args[i + 1] += "+faststart"
            return args
    return args + ["-movflags", "+faststart"]
