"""Bearer-token authentication of every route but ``/health`` and the
dashboard's page shell (which holds no data: its script asks for the token
and sends it with each call). ``/health`` without a token says only whether
the feeder is up (for load balancers); with a valid one, everything."""

from flask import g, request

from nommer.core.tokens import TokenCheck

OPEN_PATHS = frozenset({"/health", "/"})
# Routes that answer without a token, but less than with one.
PARTLY_OPEN_PATHS = frozenset({"/health"})
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
        authorization = request.headers.get("Authorization")
        if request.path in PARTLY_OPEN_PATHS and not authorization:
            g.anonymous = True
            return None
        if request.path in OPEN_PATHS - PARTLY_OPEN_PATHS:
            return None
        problem = check.problem(authorization)
        if problem is None:
            return None
        return unauthorized(problem)


def anonymous():
    """True when tokens are required and this request came without one."""
    return g.get("anonymous", False)


def unauthorized(problem):
    message = f"Authorization: {problem}"
    challenge = REALM if problem.startswith("is missing") else REALM + ', error="invalid_token"'
    if request.path.startswith(LEGACY_PREFIX):
        body = {"success": False, "error_code": "UNAUTHORIZED", "message": message,
                "field": "Authorization"}
    else:
        body = {"error": {"code": "UNAUTHORIZED", "field": "Authorization", "message": message}}
    return body, 401, {"WWW-Authenticate": challenge}
