"""What an encoder allows each ffmpeg run: whether it is confined with
Landlock, how long the encode may take and what it may write.

Plain decisions from settings and facts; the runner (``ffmpeg/runner.py``)
and its wrapper (``ffmpeg/sandbox.py``) carry them out. docs/security.md
("Confinement", "Limits") says the same for operators.
"""

import dataclasses
import os

from nommer.core.errors import ConfigError

MODES = ("auto", "required", "best-effort", "off")


@dataclasses.dataclass(frozen=True)
class Decision:
    """How to run one job's ffmpeg: ``landlock`` says whether to confine it;
    ``refuse`` (a reason) ends the job instead; ``warning`` is worth a log
    line."""

    landlock: bool
    refuse: str | None = None
    warning: str | None = None


def decide(mode, abi, uses_options):
    """The Decision for a job under setting ``confinement`` = ``mode`` on a
    kernel with Landlock ABI ``abi`` (0: none); ``uses_options`` when an
    output gives its own ffmpeg options rather than a preset."""
    if mode not in MODES:
        raise ConfigError(f"setting 'confinement': {mode!r} is not one of {', '.join(MODES)}")
    if mode == "off":
        return Decision(False, warning="ffmpeg runs without Landlock (confinement = \"off\")")
    if abi >= 1:
        return Decision(True)
    if mode == "required":
        return Decision(False, refuse="this encoder's kernel has no Landlock and setting 'confinement'"
                        " is \"required\"")
    if mode == "auto" and uses_options:
        return Decision(False, refuse="this encoder's kernel has no Landlock, so it does not run ffmpeg"
                        " options given by a job; an operator may allow it with confinement = \"best-effort\"")
    return Decision(False, warning="ffmpeg runs without Landlock: this encoder's kernel has none")


def check_start(mode, abi, read_paths=()):
    """Refuse to start an encoder that could run no job: ``required``
    without Landlock, or ``confinement_read_paths`` naming a path that is
    not there. Raises ConfigError naming the setting."""
    for path in read_paths:
        if not os.path.isabs(path) or not os.path.exists(path):
            raise ConfigError(f"setting 'confinement_read_paths': {path!r} is not an absolute path"
                              " of a file or folder that exists")
    if mode == "required" and abi < 1:
        raise ConfigError("setting 'confinement' is \"required\" but this kernel has no Landlock"
                          " (Linux 5.13 or later, with landlock in the lsm= boot list); use \"auto\" to"
                          " run presets unconfined there")


def encode_limit(encode_timeout, factor, slack, duration):
    """(seconds, code, setting) bounding a job's whole encode: the tighter
    of ``encode_timeout`` (TIMED_OUT) and ``factor`` times the source's
    ``duration`` plus ``slack`` (TOO_SLOW); (None, None, None) when neither
    applies (0 turns each off; an unknown duration the second)."""
    limits = []
    if encode_timeout:
        limits.append((float(encode_timeout), "TIMED_OUT", f"encode_timeout ({encode_timeout:g} s)"))
    if factor and duration:
        seconds = factor * duration + slack
        limits.append((seconds, "TOO_SLOW", f"encode_time_factor × the source's {duration:g} s"
                       f" + encode_time_slack ({seconds:g} s)"))
    if not limits:
        return None, None, None
    return min(limits, key=lambda limit: limit[0])
