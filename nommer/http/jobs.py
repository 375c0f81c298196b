"""The current job API: submit, get, list, cancel and retry."""

import re

from flask import Blueprint, request

from nommer.core.errors import InvalidTransition, NotFound
from nommer.http.body import nonempty, raw_body
from nommer.http.models import ListQuery, SubmitRequest, output_dicts
from nommer.core.model.resources import job_resource
from nommer.http.validation import parse_json, parse_query

JOB_ID = re.compile(r"[0-9a-f]{20}")


def checked_id(job_id):
    """``job_id`` if it looks like a job id; anything else cannot name a job."""
    if not JOB_ID.fullmatch(job_id):
        shown = job_id if len(job_id) <= 40 else job_id[:40] + "..."
        raise NotFound(f"no job {shown!r} (a job id is 20 hexadecimal digits)", field="job_id")
    return job_id


def about_job(call, job_id):
    """``call(job_id)``, its NotFound and InvalidTransition naming ``job_id``."""
    try:
        return call(checked_id(job_id))
    except (NotFound, InvalidTransition) as e:
        e.field = e.field or "job_id"
        raise


def submit_body(api, raw):
    """Submit the job a ``POST /jobs`` body (bytes) asks for; returns it
    once stored and queued. Raises what the submission's checks raise."""
    body = parse_json(SubmitRequest, nonempty(raw))
    return api.submit(body.source, output_dicts(body.outputs), body.notify_url,
                      progress_events=body.progress_events, priority=body.priority,
                      acceleration=body.acceleration)


def created_headers(job):
    return {"Location": f"/jobs/{job.id}"}


def blueprint(api):
    bp = Blueprint("jobs", __name__)

    @bp.post("/jobs")
    def submit():
        # Reached when the SubmitPath in front of the app passes a request on.
        job = submit_body(api, raw_body(request))
        return job_resource(job), 201, created_headers(job)

    @bp.get("/jobs")
    def list_jobs():
        query = parse_query(ListQuery, request.args)
        jobs, next_cursor = api.list(query.state, query.limit, query.cursor)
        return {"jobs": [job_resource(j) for j in jobs], "next_cursor": next_cursor}

    @bp.get("/jobs/<job_id>")
    def get_job(job_id):
        return job_resource(about_job(api.get, job_id))

    @bp.post("/jobs/<job_id>/cancel")
    def cancel_job(job_id):
        return job_resource(about_job(api.cancel, job_id))

    @bp.post("/jobs/<job_id>/retry")
    def retry_job(job_id):
        job = about_job(api.retry, job_id)
        return job_resource(job), 201, created_headers(job)

    return bp
