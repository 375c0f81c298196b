"""Webhook deliveries: POST a job's state change to its notify_url."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

from nommer.core.storage import redact


def payload(change, resource):
    """The JSON body of one state change (or, when ``change`` says event
    ``job.progress``, of progress made). It carries media-nommer's field
    names too (unique_id, job_state, job_state_details)."""
    return {
        "event": change.get("event", "job.state_changed"),
        "job_id": change["job_id"],
        "state": change["state"],
        "details": change.get("details", ""),
        "at": change.get("at"),
        "job": resource,
        "unique_id": change["job_id"],
        "job_state": change["state"],
        "job_state_details": change.get("details", ""),
    }


def encode(body, fmt):
    """Bytes and content type: ``json``, or ``form`` for media-nommer receivers."""
    if fmt == "form":
        fields = {k: body[k] for k in ("unique_id", "job_state", "job_state_details")}
        return urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
    return json.dumps(body).encode(), "application/json"


def post(url, data, content_type, timeout):
    """One delivery; returns the HTTP status or raises OSError-like errors."""
    request = urllib.request.Request(
        url, data=data, method="POST",
        headers={"Content-Type": content_type, "User-Agent": "nommer-webhook"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def deliver(url, data, content_type, attempts, timeout, backoff, log, stopping=None):
    """POST with retries and exponential backoff; True when a 2xx came back."""
    delay = backoff
    for attempt in range(1, attempts + 1):
        try:
            status = post(url, data, content_type, timeout)
            if 200 <= status < 300:
                return True
            error = f"HTTP {status}"
            if 400 <= status < 500 and status not in (408, 429):
                log.warning("webhook refused", url=redact(url), status=status)
                return False
        except (urllib.error.URLError, OSError, ValueError) as e:
            error = str(getattr(e, "reason", e))
        log.info("webhook failed", url=redact(url), attempt=attempt, error=error)
        if attempt < attempts:
            if stopping is not None and stopping.wait(delay):
                return False
            elif stopping is None:
                time.sleep(delay)
            delay *= 2
    return False
