"""Who may call the feeder's HTTP API.

With ``api_tokens``, every route but ``/health`` and the pages' shells and
files (the dashboard, its script and style sheet, the API reader at /docs:
they hold no data; their scripts ask for the token and send it with each
call) needs a bearer token. ``/health`` without a token says only
whether the feeder is up (for load balancers); with a valid one, everything.
Without tokens the feeder listens on loopback only, and every caller is on
this machine.

``legacy_networks`` opens media-nommer's ``POST /job/submit`` without a token
to the hosts of those networks (media-nommer's client sends no header of its
own). Without tokens it also lets the feeder listen beyond loopback; then
every route but that one answers 401 to any caller not on this machine,
``/health`` and the page included.

The caller's address is the connection's peer: waitress drops the proxy
headers, so a reverse proxy in front of the feeder is the caller.
"""

from flask import g, request

from nommer.core.security.api_tokens import Networks, TokenCheck, is_loopback_peer

OPEN_PATHS = frozenset({"/health", "/", "/docs"})
# Routes that answer without a token, but less than with one.
PARTLY_OPEN_PATHS = frozenset({"/health"})
# The pages' files, served from the package: the same for everyone.
OPEN_PREFIXES = ("/static/", "/docs/")
LEGACY_PREFIX = "/job/submit"
LEGACY_PATHS = frozenset({"/job/submit", "/job/submit/"})
REALM = 'Bearer realm="nommer"'
NO_TOKENS = ("is missing; this feeder has no api_tokens, so from another machine it takes "
             "only POST /job/submit, from the networks in legacy_networks")


ANONYMOUS = "anonymous"


class Gate:
    """The rules above for one feeder's ``tokens`` and ``legacy_networks``."""

    def __init__(self, tokens, legacy_networks=()):
        self.check = TokenCheck(tokens)
        self.legacy = Networks(legacy_networks)

    @property
    def enabled(self):
        """False when neither tokens nor legacy networks are set: every
        caller is on loopback and passes."""
        return self.check.enabled or bool(self.legacy)

    def verdict(self, path, peer, authorization):
        """None when a request for ``path`` from ``peer`` with this
        Authorization header (None when absent) may pass; ANONYMOUS when it
        may, as a caller without a token; else the problem with it."""
        if not self.enabled:
            return None
        if path in LEGACY_PATHS and peer in self.legacy:
            return None
        if not self.check.enabled:
            return None if is_loopback_peer(peer) else NO_TOKENS
        if path in PARTLY_OPEN_PATHS and not authorization:
            return ANONYMOUS
        if path in OPEN_PATHS - PARTLY_OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return None
        return self.check.problem(authorization)


def install(app, tokens, legacy_networks=()):
    """Make ``app`` answer 401 to a request that may not pass (see the
    module's text); does nothing when neither ``tokens`` nor
    ``legacy_networks`` is set (the feeder then listens on loopback).
    Returns the Gate, for a WSGI path in front of ``app`` to ask too."""
    gate = Gate(tokens, legacy_networks)
    if not gate.enabled:
        return gate

    @app.before_request
    def authenticate():
        verdict = gate.verdict(request.path, request.remote_addr, request.headers.get("Authorization"))
        if verdict is None:
            return None
        if verdict is ANONYMOUS:
            g.anonymous = True
            return None
        return unauthorized(verdict)

    return gate


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
