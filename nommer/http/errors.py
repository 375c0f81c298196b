"""Every failure of a request as one :class:`Problem`: a status, a stable code,
the field at fault and a sentence for the user. Tracebacks go to the log only."""

import dataclasses
import os

import structlog
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

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


def problem_of(exc, request, max_body_bytes):
    """What to tell the user about ``exc`` raised while serving ``request``."""
    if isinstance(exc, RequestEntityTooLarge):
        return Problem(413, "TOO_LARGE", f"body: is larger than the {max_body_bytes} bytes allowed", "body")
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(sorted(set(exc.valid_methods or ()) - {"HEAD", "OPTIONS"}))
        return Problem(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path} (allowed: {allowed})")
    if isinstance(exc, HTTPException) and exc.code == 404:
        return Problem(404, "NOT_FOUND", f"no such route: {request.method} {request.path} (see /openapi.json)")
    if isinstance(exc, HTTPException):
        return Problem(exc.code or 500, exc.name.upper().replace(" ", "_"), exc.description or exc.name)
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return Problem(status, exc.code, str(exc), getattr(exc, "field", None))
    reference = os.urandom(4).hex()
    log.error("request failed", method=request.method, path=request.path, reference=reference, exc_info=exc)
    return Problem(500, "INTERNAL", f"internal error (reference {reference}); the feeder's log has the details")
