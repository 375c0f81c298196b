"""media-nommer's ``POST /job/submit``, kept so its clients work unchanged.

Its answers are ``{"success": true, "job_id": ...}`` or ``{"success": false,
"message": ..., "error_code": ..., "field": ...}``, and errors name its fields,
not ours. A refused submission is answered with HTTP 200, as media-nommer
answered it: its client raises on any other status and reads ``success``. A
body that is not a JSON object, a missing token, a body too large and a busy
feeder keep their 4xx/5xx status (media-nommer failed on those too).
"""

from flask import Blueprint, request

from nommer.core.security.credentials import scrub
from nommer.core.errors import InvalidInput, QueueingLate
from nommer.http.body import parse_body
from nommer.http.errors import problem_of
from nommer.http.models import LegacySubmitRequest

# The keys media-nommer itself refused as "Missing/invalid required key+val".
REQUIRED = ("source_path", "dest_path", "job_options", "job_options.options", "job_options.nommer")
REQUIRED_PREFIX = "Missing/invalid required key+val: "

# Our field → media-nommer's, most specific first.
LEGACY_FIELDS = (
    ("outputs[0].destination", "dest_path"),
    ("outputs[0].options", "job_options.options"),
    ("outputs[0]", "job_options"),
    ("outputs", "job_options"),
    ("source", "source_path"),
)


def legacy_field(field):
    """The media-nommer name of a field of the current API."""
    for ours, theirs in LEGACY_FIELDS:
        if field == ours or (field and field.startswith((ours + ".", ours + "["))):
            return theirs + field[len(ours):]
    return field


def blueprint(api, max_body_bytes):
    bp = Blueprint("legacy", __name__)

    # The old client posted to job/submit; its docs said job/submit/. Both are
    # routes of their own because a redirect would lose the POST body.
    @bp.post("/job/submit")
    @bp.post("/job/submit/")
    def submit():
        body = parse_body(request, LegacySubmitRequest)
        # media-nommer's receivers read form-encoded webhooks, not JSON ones.
        try:
            job = api.submit(body.source_path, body.outputs(), body.notify_url, notify_format="form")
        except QueueingLate as e:
            job = e.job  # stored; the Dispatcher queues it
        return {"success": True, "job_id": job.id}

    @bp.errorhandler(Exception)
    def failed(exc):
        problem = problem_of(exc, request, max_body_bytes)
        field = legacy_field(problem.field)
        message = problem.message
        if isinstance(exc, InvalidInput) and field != problem.field:
            message = scrub(f"{field}: {exc.problem}", keep_user=False)
        status = problem.status
        if isinstance(exc, InvalidInput) and field != "body":
            status = 200  # a refusal media-nommer's client can read
            if field in REQUIRED:
                message = REQUIRED_PREFIX + message
        answer = {"success": False, "message": message, "error_code": problem.code, "field": field}
        return answer, status, problem.headers() if status == problem.status else {}

    return bp
