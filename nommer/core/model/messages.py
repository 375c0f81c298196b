"""The bodies of the two queues' messages: a new job's (the new-job queue)
and a job's state change (the state-change queue, read by the feeder)."""

import json


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
