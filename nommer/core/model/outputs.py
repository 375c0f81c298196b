"""The state of each output of a job.

Every output moves on its own: ``PENDING`` (not started) → ``ENCODING`` (its
ffmpeg run is going) → ``UPLOADING`` (encoded; being stored) → ``FINISHED``
(stored; ``result`` says what was made), or ``ERROR`` (``error_code`` and
``error`` say why). The job is FINISHED when every output is, ERROR when any
output failed. When the job ends otherwise, its outputs still under way end
with it: ``CANCELED`` with a canceled job, ``SKIPPED`` (never completed,
because the job ended ERROR or ABANDONED first) otherwise; an output already
FINISHED or ERROR keeps its state. So no output of a finished job is left
PENDING, ENCODING or UPLOADING.
"""

PENDING = "PENDING"
ENCODING = "ENCODING"
UPLOADING = "UPLOADING"
FINISHED = "FINISHED"
ERROR = "ERROR"
CANCELED = "CANCELED"
SKIPPED = "SKIPPED"
OUTPUT_STATES = (PENDING, ENCODING, UPLOADING, FINISHED, ERROR, CANCELED, SKIPPED)
_ENDED = (FINISHED, ERROR, CANCELED, SKIPPED)


def state_of(output):
    return output.get("state") or PENDING


def settled(outputs, job_state):
    """The outputs of a job that has just ended in ``job_state`` (a final
    state's name): those still under way end with the job."""
    if job_state == "FINISHED":
        return outputs
    end = CANCELED if job_state == "CANCELED" else SKIPPED
    return tuple(o if state_of(o) in _ENDED else {**o, "state": end} for o in outputs)


def label(index, output):
    """``outputs[2] (webm-vp9-720p)``: how details name an output."""
    what = output.get("preset") or "options"
    return f"outputs[{index}] ({what})"


def failures(outputs):
    """(index, output) of every failed output, in order."""
    return [(i, o) for i, o in enumerate(outputs) if state_of(o) == ERROR]


def failure_details(outputs):
    """One sentence per failed output: which, and why (its code is the
    output's ``error_code``, the first one the job's)."""
    return "; ".join(f"{label(i, o)} failed: {o.get('error')}" for i, o in failures(outputs))
