"""Webhook deliveries: POST a job's state change to its notify_url.

Each delivery is signed (Standard Webhooks headers, see ``signing``) when a
``webhook_secret`` is set, goes only to addresses the AddressPolicy allows
(checked on the connection itself, see ``connections``), follows no redirect, and is retried with
exponential backoff up to a cap. :func:`deliver` returns a record of what
happened, which the job keeps (``notifications`` in GET /jobs/<id>).
"""

import http.client
import json
import os
import time
import urllib.parse

from nommer.core.security import signing
from nommer.core.backoff import Backoff
from nommer.core.security.credentials import basic_auth, redact, scrub, scrub_deep
from nommer.core.model.jobs import utcnow
from nommer.core.security.netguard import refused_reason


def payload(change, resource):
    """The JSON body of one state change (or, when ``change`` says event
    ``job.progress``, of progress made). It carries media-nommer's field
    names too (unique_id, job_state, job_state_details)."""
    details = scrub(change.get("details", ""))
    return {
        "event": change.get("event", "job.state_changed"),
        "job_id": change["job_id"],
        "state": change["state"],
        "details": details,
        "at": change.get("at"),
        "job": scrub_deep(resource),
        "unique_id": change["job_id"],
        "job_state": change["state"],
        "job_state_details": details,
    }


def wanted(change, fmt):
    """Whether a receiver of format ``fmt`` is told of ``change``.

    A ``form`` receiver (a job from media-nommer's ``/job/submit``) is told
    what media-nommer told it: state changes after the submission, so
    neither PENDING (the submission's own answer said it, and a job handed
    back to the queue returns to it) nor progress events.
    """
    if fmt != "form":
        return True
    return change.get("event", "job.state_changed") == "job.state_changed" and change["state"] != "PENDING"


def legacy_fields(body):
    """media-nommer's form fields of ``body``: ``job_state_details`` is empty
    on FINISHED, as media-nommer sent it (nommer's notes on the translated
    options stay on the job, in GET /jobs/<id>), and holds the error on ERROR."""
    details = "" if body["job_state"] == "FINISHED" else body["job_state_details"]
    return {"unique_id": body["unique_id"], "job_state": body["job_state"], "job_state_details": details}


def encode(body, fmt):
    """Bytes and content type: ``json``, or ``form`` for media-nommer receivers."""
    if fmt == "form":
        return urllib.parse.urlencode(legacy_fields(body)).encode(), "application/x-www-form-urlencoded"
    return json.dumps(body).encode(), "application/json"


def message_id():
    """A new webhook-id: the same on every retry of one message."""
    return "msg_" + os.urandom(12).hex()


def post(pool, url, data, content_type, timeout, extra_headers=None):
    """One delivery over a connection of ``pool`` (a ConnectionPool);
    returns the HTTP status or raises OSError, HTTPException or ValueError.
    User info in ``url`` is sent as basic authentication."""
    bare, authorization = basic_auth(url)
    headers = {"Content-Type": content_type, "User-Agent": "nommer-webhook", **(extra_headers or {})}
    if authorization:
        headers["Authorization"] = authorization
    return pool.post(bare, data, headers, timeout)


def backoff_delays(first, cap):
    """``first``, doubled each time, never above ``cap`` (no jitter: a
    receiver's own pace, not a crowd's, sets these)."""
    return Backoff(first, max(first, cap), jitter=0).delays()


def deliver(pool, url, data, content_type, *, msg_id, state, attempts, timeout,
            backoff, backoff_max, log, key=None, stopping=None):
    """POST with retries; returns ``{id, state, attempts, status,
    delivered_at}`` on a 2xx, else ``{id, state, attempts, status, error}``."""
    shown = redact(url)
    delays = backoff_delays(backoff, backoff_max)
    record = {"id": msg_id, "state": state, "attempts": 0, "status": None}
    for attempt in range(1, attempts + 1):
        record["attempts"] = attempt
        headers = signing.headers(key, msg_id, data) if key else {}
        retry = True
        try:
            status = post(pool, url, data, content_type, timeout, headers)
            record["status"] = status
            if 200 <= status < 300:
                return {**record, "delivered_at": utcnow()}
            error = f"HTTP {status}"
            if 300 <= status < 400:
                error += " (webhook redirects are not followed)"
                retry = False
            elif 400 <= status < 500 and status not in (408, 429):
                retry = False
        except (OSError, http.client.HTTPException, ValueError) as e:
            refused = refused_reason(e)
            error = str(refused) if refused else (str(getattr(e, "reason", e)) or type(e).__name__)
            retry = refused is None
        error = scrub(error)
        if not retry:
            log.warning("webhook refused", url=shown, attempt=attempt, error=error)
            return {**record, "error": error}
        log.info("webhook failed", url=shown, attempt=attempt, error=error)
        if attempt < attempts:
            delay = next(delays)
            if stopping is not None:
                if stopping.wait(delay):
                    return {**record, "error": f"{error}; the feeder stopped before the next try"}
            else:
                time.sleep(delay)
    return {**record, "error": f"{error}; gave up after {attempts} attempts"}
