"""ffmpeg for nommer: presets, media-nommer's options, commands, probing and running.

Plain synchronous code; every function takes the path of the ffmpeg binary
(``Config.ffmpeg_exe()``) rather than looking for one.
"""

from nommer.core.ffmpeg.command import Plan, build_commands, check_source, validate_output
from nommer.core.ffmpeg.legacy import EncodeSpec, parse_passes
from nommer.core.ffmpeg.presets import PRESETS, Preset, get_preset
from nommer.core.ffmpeg.probe import probe
from nommer.core.ffmpeg.progress import Progress, ProgressParser, percent
from nommer.core.ffmpeg.runner import FfmpegRun, PlanRun, RunResult, run_plan

__all__ = [
    "EncodeSpec", "FfmpegRun", "PRESETS", "Plan", "PlanRun", "Preset", "Progress",
    "ProgressParser", "RunResult", "build_commands", "check_source", "get_preset", "parse_passes",
    "percent", "probe", "run_plan", "validate_output",
]
