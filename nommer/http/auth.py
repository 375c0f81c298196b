"""Bearer-token authentication of every route but ``/health`` and the pages'
shells and files (the dashboard, its script and style sheet, the API reader):
they hold no data; their scripts ask for the token and send it with each
call."""

from flask import request

from nommer.core.tokens import TokenCheck

OPEN_PATHS = frozenset({"/health", "/", "/docs"})
# The pages' files, served from the package: the same for everyone.
OPEN_PREFIXES = ("/static/", "/docs/")
LEGACY_PREFIX = "/job/submit"
REALM = 'Bearer realm="nommer"'


def install(app, tokens):
    """Make ``app`` answer 401 to a request without a valid token; does
    nothing when ``tokens`` is empty (the feeder then listens on loopback)."""
    check = TokenCheck(tokens)
    if not check.enabled:
        return

    @app.before_request
    def authenticate():
        if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES):
            return None
        problem = check.problem(request.headers.get("Authorization"))
        if problem is None:
            return None
        return unauthorized(problem)


def unauthorized(problem):
    message = f"Authorization: {problem}"
    challenge = REALM if problem.startswith("is missing") else REALM + ', error="invalid_token"'
    if request.path.startswith(LEGACY_PREFIX):
        body = {"success": False, "error_code": "UNAUTHORIZED", "message": message,
                "field": "Authorization"}
    else:
        body = {"error": {"code": "UNAUTHORIZED", "field": "Authorization", "message": message}}
    return body, 401, {"WWW-Authenticate": challenge}
