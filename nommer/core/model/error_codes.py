"""The stable codes of a job that ended in ERROR (``Job.error_code``).

Every code an encoder or the feeder may write is listed here with its
meaning, and docs/errors.md explains each (a test checks both). Code reads
these codes; people read ``details``.
"""

from nommer.core.errors import ConfigError, InvalidInput, NommerError

JOB_ERROR_CODES = {
    "SOURCE_NOT_FOUND": "The source does not exist (no such file; HTTP 404 or 410; no such S3 object).",
    "SOURCE_UNREADABLE": "The source could not be read, or is not media ffmpeg can read.",
    "PROBE_TIMEOUT": "ffmpeg could not describe the source in time.",
    "SOURCE_UNSAFE": "The source is a playlist, list or other file that would make ffmpeg open further files, or not a regular file.",
    "SECRET_KEY": "The job's sealed URIs cannot be decrypted: the encoder has no or another `secret_key`.",
    "CAPTION_UNREADABLE": "A caption file of an output's `captions` option could not be read (missing, not allowed, unreachable).",
    "CAPTION_INVALID": "A caption file of an output's `captions` option is not SubRip or WebVTT text.",
    "NO_VIDEO_STREAM": "An output's preset needs a video stream and the source has none.",
    "NO_AUDIO_STREAM": "An output's preset needs an audio stream and the source has none.",
    "ZERO_DURATION": "The source lasts zero seconds: there is nothing to encode.",
    "DESTINATION_INVALID": "A destination cannot be written by the encoder.",
    "OUTPUT_INVALID": "An output asks for something the encoder does not have (a preset missing from its configuration).",
    "ENCODE_FAILED": "ffmpeg failed; details carry the end of what it said.",
    "TIMED_OUT": "Encoding took longer than the `encode_timeout` setting allows.",
    "TOO_SLOW": "Encoding took longer than `encode_time_factor` times the source's duration plus `encode_time_slack`.",
    "OUTPUT_TOO_LARGE": "ffmpeg wrote more than the `max_output_bytes` setting allows for one job.",
    "CONFINEMENT_UNAVAILABLE": "ffmpeg cannot be confined with Landlock on this encoder, and the `confinement` setting does not let this job run without it.",
    "UPLOAD_FAILED": "An output could not be stored at its destination.",
    "GAVE_UP": "The job's encoder was lost `max_attempts` times.",
    "ENCODER_MISCONFIGURED": "The encoder cannot run ffmpeg (the `ffmpeg` setting).",
    "INTERNAL_ERROR": "An unexpected failure inside nommer; the encoder's log has the traceback.",
}


def job_error_code(error):
    """The code a job failing with ``error`` ends with."""
    code = getattr(error, "code", None)
    if isinstance(error, NommerError) and code in JOB_ERROR_CODES:
        return code
    if isinstance(error, ConfigError):
        return "ENCODER_MISCONFIGURED"
    if isinstance(error, InvalidInput):
        return "OUTPUT_INVALID"
    return "INTERNAL_ERROR"
