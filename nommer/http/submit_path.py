"""``POST /jobs`` served in front of the Flask app.

Submissions are the busiest route, and Flask's per-request machinery (a
request context, routing, hooks, a response object) costs as much as a
submission's own checks. A :class:`SubmitPath` wraps the app's WSGI callable:
a ``POST /jobs`` whose caller passes the API's gate and whose body has a
length within ``max_body_bytes`` is read, submitted (:func:`jobs.submit_body`,
the very function of the Flask route) and answered 201 here, with the bytes
and headers the Flask route gives.

Everything else goes on to the app unchanged, and so does a submission that
fails, whatever the reason: the body is put back and the exception handed
over in the WSGI environ (``RAISED``), for the app to raise it again inside
its own request; one error handler shapes every problem, and a failure here
is never submitted twice.
"""

import io
import logging
import time

from nommer.core import log
from nommer.core.model.resources import job_resource
from nommer.http.jobs import created_headers, submit_body

#: The environ key of an exception this path hands over to the app.
RAISED = "nommer.raised"
#: The environ key of the time (perf_counter) this path began a request it
#: hands over: the app's access line counts from it.
STARTED = "nommer.started"

#: What every API answer carries (the app's ``hardened`` adds the same).
HARDENED = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"))


class SubmitPath:
    """The WSGI callable of ``app`` with ``POST /jobs`` served first; see the module.

    ``gate`` is the app's :class:`auth.Gate`; ``api`` the app's API object.
    """

    def __init__(self, app, api, gate, max_body_bytes):
        self.app = app.wsgi_app
        self.api = api
        self.gate = gate
        self.max_body_bytes = max_body_bytes
        self.json = app.json
        self.access = log.get("nommer.http")

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/jobs" or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        started = environ[STARTED] = time.perf_counter()
        if self.gate.enabled and self.gate.verdict(
                "/jobs", environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION")) is not None:
            return self.app(environ, start_response)  # its 401
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return self.app(environ, start_response)  # no length: the app reads it as it can
        if not 0 <= length <= self.max_body_bytes or "HTTP_TRANSFER_ENCODING" in environ:
            # Its 413; or a body whose length a server left to the app to read.
            return self.app(environ, start_response)
        raw = environ["wsgi.input"].read(length)
        try:
            job = submit_body(self.api, raw)
            # As Flask's JSON provider writes a compact answer.
            body = (self.json.dumps(job_resource(job), separators=(",", ":")) + "\n").encode()
        except Exception as e:
            environ["wsgi.input"] = io.BytesIO(raw)
            environ[RAISED] = e
            return self.app(environ, start_response)
        start_response("201 CREATED", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            *created_headers(job).items(), *HARDENED])
        if log.enabled(logging.INFO):
            self.access.info("request", method="POST", path="/jobs", status=201,
                             ms=round((time.perf_counter() - started) * 1000, 1))
        return [body]
