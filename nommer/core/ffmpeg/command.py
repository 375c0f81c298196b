"""Turn one requested output (a preset or media-nommer passes) into ffmpeg argv lists."""

import dataclasses
import os

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg import sources
from nommer.core.ffmpeg.legacy import EncodeSpec, parse_passes
from nommer.core.ffmpeg.presets import PRESETS, get_preset

# -progress pipe:1 puts key=value progress on stdout, where the runner reads it;
# -nostats keeps stderr for messages only.
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats")
# The source must not make ffmpeg open anything else (see sources.py).
INPUT_GUARD = sources.INPUT_GUARD


@dataclasses.dataclass(frozen=True)
class Plan:
    """The ffmpeg commands of one output, run in order in ``workdir``."""

    commands: list  # of argv lists, one per pass
    notes: list  # what was translated or dropped from the user's options
    workdir: str


def validate_output(output, field="outputs[0]"):
    """Check what ``output`` asks for without building anything.

    ``output`` is a job output dict with exactly one of ``preset`` (a name)
    or ``options`` (media-nommer passes); other keys are ignored. Returns the
    EncodeSpec it stands for; raises InvalidInput naming the field.
    """
    if not isinstance(output, dict):
        raise InvalidInput(field, "must be an object")
    has_preset, has_options = "preset" in output, "options" in output
    if has_preset and has_options:
        raise InvalidInput(field, "give either 'preset' or 'options', not both")
    if has_preset:
        preset = get_preset(output["preset"], f"{field}.preset")
        return EncodeSpec(passes=[([], list(preset.output_args))])
    if has_options:
        return parse_passes(output["options"], f"{field}.options")
    raise InvalidInput(
        field,
        "needs 'preset' (one of: " + ", ".join(PRESETS) + ") or 'options' (ffmpeg passes)",
    )


def check_source(output, probed):
    """Raise JobFailed when the probed source cannot make ``output``.

    Only presets say what they need; media-nommer options are taken on trust.
    """
    if isinstance(output, dict) and "preset" in output:
        get_preset(output["preset"]).check_source(probed)


def build_commands(ffmpeg, source_path, output_path, output, workdir, field="outputs[0]"):
    """The Plan that encodes ``source_path`` into ``output_path`` as ``output`` asks.

    Paths are made absolute so that a name like ``a:b.mp4`` is never read as
    a protocol. A two-pass encode keeps its pass log in ``workdir``; give
    each output that may run at the same time its own workdir.
    """
    spec = validate_output(output, field)
    source, target = os.path.abspath(source_path), os.path.abspath(output_path)
    workdir = os.path.abspath(workdir)
    passlog = os.path.join(workdir, "passlog")
    two_pass = len(spec.passes) == 2
    commands = []
    for n, (input_args, output_args) in enumerate(spec.passes, start=1):
        last = n == len(spec.passes)
        if last and spec.faststart:
            output_args = _with_faststart(output_args)
        argv = [ffmpeg, *GLOBAL_ARGS, *INPUT_GUARD, *input_args, "-i", source, *output_args]
        if two_pass:
            argv += ["-pass", str(n), "-passlogfile", passlog]
        if last:
            argv.append(target)
        else:
            # The first pass only writes its log; ffmpeg keeps the last -f given.
            argv += ["-an", "-f", "null", os.devnull]
        commands.append(argv)
    return Plan(commands=commands, notes=list(spec.notes), workdir=workdir)


def _with_faststart(args):
    """Output ``args`` with +faststart added to their -movflags, or given one."""
    args = list(args)
    for i in range(len(args) - 1):
        if args[i] == "-movflags":
            if "faststart" not in args[i + 1]:
                args[i + 1] += "+faststart"
            return args
    return args + ["-movflags", "+faststart"]
