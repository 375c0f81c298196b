"""What a job costs an encoder, in seconds: the source's duration times each
output's cost factor (encoder-seconds per source-second).

A factor is known per preset and instance type. It starts from
:data:`CALIBRATED`, measured with ``python -m bench.calibrate_presets`` (a
6 s 1280x720 clip, one ffmpeg run per preset, on the 2-core machine
docs/benchmarks.md describes), and is then learned from finished jobs: an
exponentially weighted mean of what their encoding really took per second
of source. Before the source is probed its duration is unknown and the job
counts as ``default_job_seconds``.
"""

import threading

from nommer.core.model.jobs import RUNNING_STATES, State, parse_time

# Seconds of one encoder per second of source, measured (see the module's doc).
CALIBRATED = {
    "mp4-h264-360p": 0.165,
    "mp4-h264-480p": 0.196,
    "mp4-h264-720p": 0.306,
    "mp4-h264-1080p": 0.316,
    "mp4-h265-720p": 1.569,
    "mp4-h265-1080p": 1.755,
    "webm-vp9-720p": 0.402,
    "mp4-av1-720p": 0.256,
    "hls-h264-ladder": 0.971,
    "m4a-aac": 0.052,
    "ogg-opus": 0.030,
    "thumbnails-jpeg": 0.048,
    "poster-jpeg": 0.023,
}
# An output with its own ffmpeg options or an operator preset: nothing is
# known of it until one finishes; an H.264 1080p encode is a fair guess.
UNKNOWN_FACTOR = 0.35
# Weight of the newest finished job in the learned mean.
LEARNING_WEIGHT = 0.2
ANY_TYPE = ""


def output_kind(output):
    """The name a cost factor is kept under: the preset, or ``options``."""
    return output.get("preset") or "options"


def encode_seconds(job):
    """Seconds the job spent encoding (ENCODING to UPLOADING in its
    history), or None when its history does not tell."""
    entered = {}
    for state, at in job.history:
        entered[state] = at  # the latest entry: a released job's last try
    began, ended = parse_time(entered.get("ENCODING")), parse_time(entered.get("UPLOADING"))
    if began is None or ended is None or ended < began:
        return None
    return (ended - began).total_seconds()


def source_seconds(job):
    duration = (job.probe or {}).get("duration")
    return float(duration) if isinstance(duration, (int, float)) and duration > 0 else None


class CostModel:
    """Cost factors per (preset, instance type), seeded and then learned.

    Thread-safe: the JobTracker learns while the Scaler's view is built
    elsewhere; one lock guards the table."""

    def __init__(self, default_job_seconds=60.0, seed=None, instance_type=ANY_TYPE):
        self.default_job_seconds = float(default_job_seconds)
        self.instance_type = instance_type
        self._lock = threading.Lock()
        self._factors = {(name, ANY_TYPE): f for name, f in (seed or CALIBRATED).items()}
        self.learned = {}  # (kind, instance type): jobs learned from

    def factor(self, kind, instance_type=None):
        instance_type = self.instance_type if instance_type is None else instance_type
        with self._lock:
            found = self._factors.get((kind, instance_type))
            if found is None:
                found = self._factors.get((kind, ANY_TYPE), UNKNOWN_FACTOR)
            return found

    def job_factor(self, outputs, instance_type=None):
        """Encoder-seconds per source-second of all of a job's outputs."""
        return sum(self.factor(output_kind(o), instance_type) for o in outputs) or UNKNOWN_FACTOR

    def predict(self, job, instance_type=None):
        """Encoder-seconds the job still needs: all of it until it is
        probed (``default_job_seconds`` when the duration is unknown), what
        its progress leaves while it runs, none once it is final."""
        if job.state.is_final:
            return 0.0
        duration = source_seconds(job)
        whole = (duration * self.job_factor(job.outputs, instance_type)
                 if duration is not None else self.default_job_seconds)
        if job.state in RUNNING_STATES and job.progress:
            whole *= max(0.0, 1.0 - job.progress / 100.0)
        return whole

    def learn(self, job, instance_type=None):
        """Fold a FINISHED job's real encoding time into its outputs'
        factors, shared among them by their current factors. Returns
        whether the job taught anything."""
        if job.state != State.FINISHED:
            return False
        duration, took = source_seconds(job), encode_seconds(job)
        if duration is None or took is None:
            return False
        instance_type = self.instance_type if instance_type is None else instance_type
        kinds = [output_kind(o) for o in job.outputs]
        current = [self.factor(k, instance_type) for k in kinds]
        total = sum(current) or 1.0
        measured = took / duration
        with self._lock:
            for kind, share in zip(kinds, current):
                key = (kind, instance_type)
                seen = self._factors.get(key, share)
                observed = measured * share / total
                self._factors[key] = seen + LEARNING_WEIGHT * (observed - seen)
                self.learned[key] = self.learned.get(key, 0) + 1
        return True

    def table(self):
        with self._lock:
            return {f"{k}@{t}" if t else k: round(v, 4) for (k, t), v in sorted(self._factors.items())}
