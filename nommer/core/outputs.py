"""The state of each output of a job.

Every output moves on its own: ``PENDING`` (not started) → ``ENCODING`` (its
ffmpeg run is going) → ``UPLOADING`` (encoded; being stored) → ``FINISHED``
(stored; ``result`` says what was made), or ``ERROR`` (``error_code`` and
``error`` say why). The job is FINISHED when every output is, ERROR when any
output failed. An output left PENDING in a finished job was never started,
because the job failed before it could be.
"""

PENDING = "PENDING"
ENCODING = "ENCODING"
UPLOADING = "UPLOADING"
FINISHED = "FINISHED"
ERROR = "ERROR"
OUTPUT_STATES = (PENDING, ENCODING, UPLOADING, FINISHED, ERROR)


def state_of(output):
    return output.get("state") or PENDING


def label(index, output):
    """``outputs[2] (webm-vp9-720p)``: how details name an output."""
    what = output.get("preset") or "options"
    return f"outputs[{index}] ({what})"


def failures(outputs):
    """(index, output) of every failed output, in order."""
    return [(i, o) for i, o in enumerate(outputs) if state_of(o) == ERROR]


def failure_details(outputs):
    """One sentence per failed output: which, its code and why."""
    return "; ".join(
        f"{label(i, o)} failed ({o.get('error_code')}): {o.get('error')}" for i, o in failures(outputs)
    )
