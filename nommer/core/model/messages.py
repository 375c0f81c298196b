"""The bodies of the two queues' messages: a new job's (the new-job queue)
and a job's state change (the state-change queue, read by the feeder)."""

import json

from nommer.core.model import progress as progress_mod


def message_body(job_id):
    """The new-job queue's message for job ``job_id``."""
    return json.dumps({"job_id": job_id})


def job_id_of(body):
    """The job id of a new-job message; None when it cannot be read."""
    try:
        data = json.loads(body)
        return str(data["job_id"])
    except (ValueError, KeyError, TypeError):
        return None


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
