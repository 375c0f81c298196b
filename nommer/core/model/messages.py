"""The bodies of the two queues' messages: a new job's or one piece of an
accelerated job's (the new-job queue) and a job's state change (the state-change queue, read by the feeder)."""

import json

from nommer.core.model import progress as progress_mod


def message_body(job_id):
    """The new-job queue's message for job ``job_id``."""
    return json.dumps({"job_id": job_id})


def piece_body(job_id, attempt, piece_id):
    """The new-job queue's message for piece ``piece_id`` of attempt
    ``attempt`` of accelerated job ``job_id`` (nommer/core/model/pieces.py)."""
    return json.dumps({"job_id": job_id, "attempt": attempt, "piece": piece_id})


def piece_of(body):
    """(job attempt, piece id) of a piece's message; None for a job's own
    message or one that cannot be read."""
    try:
        data = json.loads(body)
        if "piece" not in data:
            return None
        return int(data["attempt"]), str(data["piece"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def job_id_of(body):
    """The job id of a new-job message; None when it cannot be read."""
    try:
        data = json.loads(body)
        return str(data["job_id"])
    except (ValueError, KeyError, TypeError):
        return None


# A piece of an accelerated job is done: the feeder re-reads the job (its
# Scaler counts the work left); no webhook is told of it.
PIECE_EVENT = "job.piece_done"


def state_change(job, event="job.state_changed", origin=None):
    """The state-change queue's message of ``job`` as a dict (JSON-encoded
    to send): that it moved to its state, or, with event ``job.progress``,
    how far it got. ``origin`` names the part that wrote and logged the
    change already (the JobTracker's own changes)."""
    change = {"job_id": job.id, "state": job.state.value, "details": job.details,
              "at": job.updated_at}
    if event != "job.state_changed":
        change.update(event=event, progress=job.progress, phases=job.phases,
                      phase=progress_mod.phase_of(job.state))
    if origin is not None:
        change["origin"] = origin
    return change
