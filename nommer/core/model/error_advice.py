"""What each job error code means and what to do about it: the job table of
docs/errors.md, which a test keeps this in step with (the dashboard shows it
beside a failed job)."""

# code: (when, what to do), in docs/errors.md's words and order.
JOB_ERROR_ADVICE = {
    'SOURCE_NOT_FOUND': (
        'The source does not exist: no such file, HTTP 404 or 410, no such S3 object.',
        'Check the source URI.',
    ),
    'SOURCE_UNREADABLE': (
        'The source could not be read (permission denied, an HTTP error, a download that kept failing, a local source removed or replaced while the job ran) or is not media ffmpeg can read.',
        "Check the source and its access rights; `details` has ffmpeg's reason.",
    ),
    'SOURCE_UNSAFE': (
        'The source is an HLS playlist, a concat list, an SDP file or other text that would make ffmpeg open further files, or is not a regular file (a pipe). Refused before ffmpeg reads it (docs/security.md).',
        'Give a media file.',
    ),
    'SECRET_KEY': (
        "The job's URIs carry credentials sealed with `secret_key`, and this encoder has no key, or another one.",
        'Give feeder and encoders the same `secret_key`.',
    ),
    'PROBE_TIMEOUT': (
        'ffmpeg could not describe the source within 30 seconds.',
        'The source is damaged or unusually slow to read.',
    ),
    'NO_VIDEO_STREAM': (
        "An output's preset needs a video stream and the source has none (an audio file; cover art does not count). Found before any encoding.",
        'Use an audio preset (`m4a-aac`, `ogg-opus`) for such sources.',
    ),
    'NO_AUDIO_STREAM': (
        'An audio-only preset, or `loudness` on an output, was asked of a source without sound. Found before any encoding.',
        'Drop the audio output for silent sources.',
    ),
    'ZERO_DURATION': (
        'The source lasts zero seconds: it holds no frame or sample at all. Found before any encoding.',
        'Check the source file.',
    ),
    'CAPTION_UNREADABLE': (
        "A caption file of an output's `captions` option could not be read: it does not exist, its URI is outside what the encoder may read (`file_roots`, the address rules of sources), or the download kept failing. `details` names the caption (`outputs[0].captions[1].uri`). Found before any encoding.",
        "Check the caption's URI and its access rights.",
    ),
    'CAPTION_INVALID': (
        "A caption file of an output's `captions` option is not a SubRip or WebVTT text file in UTF-8 (at most 10 MiB): it is binary, in another encoding or another subtitle format. It is never handed to ffmpeg. Found before any encoding.",
        'Give a `.srt` or `.vtt` file in UTF-8 (convert other formats first).',
    ),
    'DESTINATION_INVALID': (
        'A destination cannot be written by the encoder: outside `file_roots`, not writable, a file URI where the output makes a folder (or the reverse), or an existing file nommer did not write (without `allow_overwrite`). Found before the download, and checked again just before each file is stored.',
        "Fix the destination, or the encoder's settings.",
    ),
    'OUTPUT_INVALID': (
        "An output asks for something the encoder does not have, such as an operator preset missing from the encoder's configuration.",
        'Give encoders the same `presets` as the feeder (the feeder does so for the encoders it starts).',
    ),
    'ENCODE_FAILED': (
        "ffmpeg failed. `details` (or the output's `error`) carries the end of what ffmpeg said.",
        "Read ffmpeg's words; for `options` outputs, check the options.",
    ),
    'TIMED_OUT': (
        'Encoding took longer than the `encode_timeout` setting allows.',
        'Raise `encode_timeout`, or split the work.',
    ),
    'TOO_SLOW': (
        "Encoding took longer than `encode_time_factor` times the source's duration plus `encode_time_slack` seconds (by default 20 × the duration + 60 s), the tighter of this and `encode_timeout`. `details` names the limit.",
        "Raise `encode_time_factor` for slow presets or machines; a job that keeps hitting it may be built to waste the encoder's time.",
    ),
    'OUTPUT_TOO_LARGE': (
        "ffmpeg wrote more than `max_output_bytes` into the job's work folder (all outputs and pass logs together, the source not counted): it was stopped at once, or a write past the limit ended it (RLIMIT_FSIZE, SIGXFSZ). Nothing is stored.",
        'Raise `max_output_bytes`, or ask for smaller outputs.',
    ),
    'CONFINEMENT_UNAVAILABLE': (
        'ffmpeg cannot be confined with Landlock on this encoder and the `confinement` setting does not let this job run without it: a job with its own `options` under `auto`, any job under `required` (such jobs are refused before the download); or the confinement could not be set up (`details` says why). See docs/security.md, "Confinement".',
        'Run encoders on a kernel with Landlock (Linux 5.13+, `landlock` in the LSM list), use presets, or set `confinement = "best-effort"`.',
    ),
    'UPLOAD_FAILED': (
        'An output could not be stored at its destination, after retries.',
        "Check the destination's storage.",
    ),
    'ACCELERATION_INELIGIBLE': (
        'The job asked for `acceleration: ENABLED` and cannot be accelerated; `details` says why: the source lasts no longer than `accelerate_min_seconds`, has subtitle streams, or has its key frames too far apart, or the farm has no `scratch_uri` (on AWS). What the submission shows (a preset or options encoded whole) is refused at submit instead.',
        'Ask for `PREFERRED` (accelerated when it can be, else encoded whole) or `DISABLED`.',
    ),
    'GAVE_UP': (
        "The job's encoder was lost (stopped heartbeating) `max_attempts` times.",
        "Look at the encoders' logs: a source that crashes ffmpeg's machine, or machines that die.",
    ),
    'ENCODER_MISCONFIGURED': (
        'The encoder cannot run ffmpeg (the `ffmpeg` setting names no program it can start).',
        "Fix the encoder's `ffmpeg` setting.",
    ),
    'INTERNAL_ERROR': (
        'An unexpected failure inside nommer.',
        "The encoder's log has the traceback under the job's `job_id`; please report it.",
    ),
}


def advice_table():
    """The table as JSON-ready rows: code, when, what_to_do."""
    return [{"code": code, "when": when, "what_to_do": what} for code, (when, what) in JOB_ERROR_ADVICE.items()]
