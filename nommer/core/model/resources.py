"""How a job looks to the outside, in API answers and in webhook bodies
alike: credentials hidden, links included. In core, so that the HTTP layer
and the Notifier build it the same way and core never imports ``http``."""

from nommer.core.model import progress, results
from nommer.core.security.credentials import redact, scrub
from nommer.core.model.outputs import state_of


def job_resource(job):
    """The JSON-ready dict of ``job`` for API answers."""
    return {
        "id": job.id,
        "state": str(job.state),
        "details": scrub(job.details),
        "notes": list(job.notes),
        "error_code": job.error_code,
        # The overall percent; phases has one per phase.
        "progress": job.progress,
        "phase": progress.phase_of(job.state),
        "phases": progress.phases_of(job),
        "attempt": job.attempt,
        "source": redact(job.source),
        "outputs": [output_resource(o) for o in job.outputs],
        "notify_url": redact(job.notify_url),
        "progress_events": job.progress_events,
        "priority": job.priority,
        "encoder_id": job.encoder_id,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "probe": job.probe,
        "notifications": [dict(n) for n in job.notifications],
        # [state, at] of each state entered, oldest first (bounded: the first
        # and the latest ones).
        "history": [list(h) for h in job.history],
        "links": {
            "self": f"/jobs/{job.id}",
            # None once the job has finished: there is nothing left to cancel.
            "cancel": None if job.is_final else f"/jobs/{job.id}/cancel",
            # None until the job has finished: only a finished job is retried.
            "retry": f"/jobs/{job.id}/retry" if job.is_final else None,
        },
    }


def output_resource(output):
    shown = {"destination": redact(output.get("destination"))}
    for key in ("preset", "options", "interval", "loudness", "quality", "target_vmaf", "keep_if_smaller"):
        if output.get(key) is not None:
            shown[key] = output[key]
    if output.get("captions"):
        shown["captions"] = [{**c, "uri": redact(c.get("uri"))} for c in output["captions"]]
    shown["state"] = state_of(output)
    shown["error_code"] = output.get("error_code")
    shown["error"] = output.get("error")
    if output.get("reason"):
        shown["reason"] = output["reason"]  # why a SKIPPED output was not stored
    shown["result"] = _redacted_result(output.get("result"), output.get("destination"))
    return shown


def _redacted_result(result, destination):
    # The stored result names files relative to the destination; shown,
    # they are URIs, redacted like it.
    return results.shown(result, destination or "")
