"""The application factory of the feeder's HTTP API."""

import logging
import time

from flask import Flask, g, request
from werkzeug.exceptions import InternalServerError

from nommer.core import log
from nommer.core.errors import QueueingLate
from nommer.core.model.resources import job_resource
from nommer.http import auth, jobs, legacy_api, metrics, pages, presets, status
from nommer.http.errors import problem_of
from nommer.http.submit_path import HARDENED, RAISED, STARTED, SubmitPath


def create_app(api, *, max_body_bytes=1_000_000, api_tokens=(), legacy_networks=(), feeder_metrics=None):
    """A Flask app serving ``api``.

    ``api`` has ``submit(source, outputs, notify_url, notify_format=,
    progress_events=, priority=)``, ``get(job_id)``, ``list(state, limit, cursor)``,
    ``cancel(job_id)``, ``retry(job_id)``, ``presets()`` (a list of preset descriptions),
    ``fleet()`` and ``health() -> (ok, report)``, raising nommer's errors; the
    feeder passes a gateway to its actors, tests a JobService wrapper. With
    ``api_tokens`` every route but /health and the dashboard's page needs one
    of them as a bearer token; ``legacy_networks`` opens POST /job/submit
    without one to those networks (see ``auth``). ``feeder_metrics`` (a
    FeederMetrics) is what /metrics shows; without it, the gauges
    ``api.health()`` can fill.
    """
    access = log.get("nommer.http")
    app = Flask("nommer.http")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False

    @app.before_request
    def started():
        # (from when the SubmitPath began a submission it hands over)
        g.started = request.environ.get(STARTED) or time.perf_counter()
        # A submission the SubmitPath failed to make: its error, raised
        # here so that the handler below answers it.
        raised = request.environ.get(RAISED)
        if raised is not None:
            raise raised

    gate = auth.install(app, api_tokens, legacy_networks)
    app.register_blueprint(jobs.blueprint(api))
    app.register_blueprint(legacy_api.blueprint(api, max_body_bytes))
    app.register_blueprint(status.blueprint(api, feeder_metrics or metrics.for_api(api)))
    app.register_blueprint(presets.blueprint(api))
    app.register_blueprint(pages.blueprint())

    @app.errorhandler(QueueingLate)
    def kept(exc):
        # Stored, its queue message on its way: accepted, not created-and-queued.
        return job_resource(exc.job), 202, jobs.created_headers(exc.job)

    @app.errorhandler(Exception)
    def failed(exc):
        if isinstance(exc, InternalServerError) and exc.original_exception is not None:
            exc = exc.original_exception  # the real cause, so it is logged
        problem = problem_of(exc, request, max_body_bytes)
        return problem.as_json(), problem.status, problem.headers()

    @app.after_request
    def hardened(response):
        # Answers are data, never pages to render or to keep in a cache.
        for name, value in HARDENED:
            response.headers.setdefault(name, value)
        # The access line: the path alone (no query, no header), so that no
        # token or credential can reach the log.
        if log.enabled(logging.INFO):
            access.info("request", method=request.method, path=request.path, status=response.status_code,
                        ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1))
        return response

    app.wsgi_app = SubmitPath(app, api, gate, max_body_bytes)
    return app
