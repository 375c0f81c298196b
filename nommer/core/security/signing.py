"""Webhook signatures as Standard Webhooks defines them.

Each delivery carries ``webhook-id`` (one per message, the same on every
retry), ``webhook-timestamp`` (seconds since the epoch, of this attempt) and
``webhook-signature``: ``v1,`` then the base64 of HMAC-SHA256 over
``{id}.{timestamp}.{body}`` keyed with the secret's bytes. A receiver
recomputes it and compares in constant time (docs/security.md has one).
"""

import base64
import binascii
import hashlib
import hmac
import time

PREFIX = "whsec_"
MIN_BYTES, MAX_BYTES = 24, 64


def secret_bytes(secret):
    """The key bytes of a ``whsec_<base64>`` secret (the prefix is optional).

    Raises ValueError saying what is wrong with it.
    """
    text = secret.strip()
    if text.startswith(PREFIX):
        text = text[len(PREFIX):]
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be whsec_ followed by base64") from None
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise ValueError(f"must hold {MIN_BYTES} to {MAX_BYTES} bytes, not {len(key)}")
    return key


def signature(key, msg_id, timestamp, body):
    """``v1,<base64>`` for ``body`` (bytes) sent as message ``msg_id`` at ``timestamp``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(key, msg_id, body, now=None):
    """The three Standard Webhooks headers of one delivery attempt."""
    timestamp = int(now if now is not None else time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, msg_id, timestamp, body),
    }


def verify(key, received_headers, body, tolerance=300, now=None):
    """True when ``received_headers`` sign ``body`` with ``key``, and the
    timestamp is within ``tolerance`` seconds of now (a replay is refused)."""
    lowered = {k.lower(): v for k, v in received_headers.items()}
    try:
        msg_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        given = lowered["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(key, msg_id, timestamp, body)
    # Several signatures may be sent (one per secret while a secret is replaced).
    return any(hmac.compare_digest(expected, one) for one in given)
