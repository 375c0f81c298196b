"""API tokens: who may use the feeder's HTTP API, and where it may listen.

Tokens come from the ``api_tokens`` setting (several, so one can be replaced
without a gap). A presented token is compared with every configured one in
constant time, with no early exit, so neither the timing nor the work done
tells how much of it was right or which token it matched.
"""

import hashlib
import hmac
import ipaddress

from nommer.core.errors import ConfigError

LOOPBACK_NAMES = ("localhost",)


class TokenCheck:
    def __init__(self, tokens):
        # Digests make every comparison the same length, so compare_digest
        # does not reveal a token's length either.
        self._digests = [hashlib.sha256(t.encode()).digest() for t in tokens]

    @property
    def enabled(self):
        return bool(self._digests)

    def problem(self, authorization):
        """None when the ``Authorization`` header value carries a valid
        token, else the sentence that says what is wrong with it."""
        if not authorization or not authorization.strip():
            return "is missing; send the header 'Authorization: Bearer <token>'"
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "must be 'Bearer <token>'"
        given = hashlib.sha256(token.strip().encode("utf-8", "surrogatepass")).digest()
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(given, digest)
        return None if matched else "the token is not valid"


def is_loopback(host):
    """True when ``host`` (a listen address) is reachable from this machine only."""
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(config):
    """Raise ConfigError when the API would be open to the network: no
    ``api_tokens`` and a ``host`` other than loopback."""
    if config.api_tokens or is_loopback(config.host):
        return
    raise ConfigError(
        f"setting 'host' is {config.host!r} but setting 'api_tokens' is empty: the API "
        "would let anyone who can reach it submit jobs. Set api_tokens (see "
        "docs/security.md), or listen on loopback only (host = \"127.0.0.1\")"
    )
