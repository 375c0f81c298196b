"""Every failure of a request as one :class:`Problem`: a status, a stable code,
the field at fault and a sentence for the user. Tracebacks go to the log only."""

import dataclasses
import os

import structlog
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from nommer.core.security.credentials import scrub
from nommer.core.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
    StaleWrite,
    TransientError,
    Unavailable,
)

log = structlog.get_logger("nommer.http")

RETRY_AFTER = 1  # seconds, in the Retry-After header of a 503

STATUS = (
    (InvalidInput, 400),
    (NotFound, 404),
    (InvalidTransition, 409),
    (AlreadyExists, 409),
    (StaleWrite, 409),  # the job kept changing under us; trying again can work
    (Unavailable, 503),
    (TransientError, 503),
)


@dataclasses.dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str
    field: str | None = None

    def as_json(self):
        return {"error": {"code": self.code, "field": self.field, "message": self.message}}

    def headers(self):
        """A 503 (a part restarting, a database kept locked) says when to try again."""
        return {"Retry-After": str(RETRY_AFTER)} if self.status == 503 else {}


def problem_of(exc, request, max_body_bytes):
    """What to tell the user about ``exc`` raised while serving ``request``.

    A 4xx names the field at fault (``path`` and ``method`` for the route
    itself); no answer repeats a credential found in a URI.
    """
    problem = _problem(exc, request, max_body_bytes)
    return dataclasses.replace(problem, message=scrub(problem.message, keep_user=False))


def _problem(exc, request, max_body_bytes):
    if isinstance(exc, RequestEntityTooLarge):
        return Problem(413, "TOO_LARGE", f"body: is larger than the {max_body_bytes} bytes allowed", "body")
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(sorted(set(exc.valid_methods or ()) - {"HEAD", "OPTIONS"}))
        return Problem(405, "METHOD_NOT_ALLOWED", f"method: {request.method} is not allowed on {_shown_path(request)} (allowed: {allowed})", "method")
    if isinstance(exc, HTTPException) and exc.code == 404:
        return Problem(404, "NOT_FOUND", f"path: no such route: {request.method} {_shown_path(request)} (see /openapi.json)", "path")
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        field = "body" if 400 <= code < 500 else None
        message = exc.description or exc.name
        return Problem(code, exc.name.upper().replace(" ", "_"), f"{field}: {message}" if field else message, field)
    for kind, status in STATUS:
        if isinstance(exc, kind):
            field = getattr(exc, "field", None)
            message = str(exc)
            if field and not message.startswith(f"{field}: "):
                message = f"{field}: {message}"
            return Problem(status, exc.code, message, field)
    reference = os.urandom(4).hex()
    # The path may hold anything a client sent; the log gets it redacted.
    log.error("request failed", method=request.method, path=request.path, reference=reference, exc_info=exc)
    return Problem(500, "INTERNAL", f"internal error (reference {reference}); the feeder's log has the details")


def _shown_path(request):
    path = request.path
    return path if len(path) <= 80 else path[:80] + "..."
