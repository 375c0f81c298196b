"""ffmpeg for nommer: presets, media-nommer's options, commands, probing and running.

Plain synchronous code; every function takes the path of the ffmpeg binary
(``Config.ffmpeg_exe()``) rather than looking for one.
"""

from nommer.core.ffmpeg.command import (
    Plan,
    Requested,
    Target,
    build_commands,
    check_source,
    plan_job,
    validate_output,
)
from nommer.core.ffmpeg.legacy_options import EncodeSpec, parse_passes
from nommer.core.ffmpeg.preset import Preset
from nommer.core.ffmpeg.presets import BUILT_IN_CATALOGUE, PRESETS, Catalogue, catalogue, get_preset
from nommer.core.ffmpeg.probe import probe
from nommer.core.ffmpeg.progress_output import Progress, ProgressParser, percent
from nommer.core.ffmpeg.runner import FfmpegRun, PlanRun, RunResult, Sandbox, run_plan

__all__ = [
    "BUILT_IN_CATALOGUE", "Catalogue", "EncodeSpec", "FfmpegRun", "PRESETS", "Plan", "PlanRun",
    "Preset", "Progress", "ProgressParser", "Requested", "RunResult", "Sandbox", "Target", "build_commands",
    "catalogue", "check_source", "get_preset", "parse_passes", "percent", "plan_job", "probe",
    "run_plan", "validate_output",
]
