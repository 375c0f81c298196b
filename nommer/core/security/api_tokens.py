"""API tokens: who may use the feeder's HTTP API, and where it may listen.

Tokens come from the ``api_tokens`` setting (several, so one can be replaced
without a gap). ``legacy_networks`` names the networks whose hosts may call
media-nommer's ``POST /job/submit`` without one (its client cannot send a
header of its own). A presented token is compared with every configured one in
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


class Networks:
    """A list of networks (CIDR text, as the settings hold them), asked
    whether a caller's address is in one."""

    def __init__(self, cidrs):
        self._networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def __bool__(self):
        return bool(self._networks)

    def __contains__(self, address):
        ip = peer_address(address)
        return ip is not None and any(ip.version == n.version and ip in n for n in self._networks)


def peer_address(address):
    """The ip_address of a peer's address text (an IPv4 address mapped into
    IPv6, as a dual-stack socket shows it, as IPv4), or None."""
    try:
        ip = ipaddress.ip_address((address or "").strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_loopback_peer(address):
    """True when a request came from this machine."""
    ip = peer_address(address)
    return ip is not None and ip.is_loopback


def check_exposure(config):
    """Raise ConfigError when the API would be open to the network: no
    ``api_tokens`` and a ``host`` other than loopback, unless
    ``legacy_networks`` is set (then the HTTP layer opens only the legacy
    route to those networks, and nothing to other callers but loopback)."""
    if config.api_tokens or is_loopback(config.host) or config.legacy_networks:
        return
    raise ConfigError(
        f"setting 'host' is {config.host!r} but setting 'api_tokens' is empty: the API "
        "would let anyone who can reach it submit jobs. Set api_tokens (see "
        "docs/security.md), or listen on loopback only (host = \"127.0.0.1\"), or set "
        "legacy_networks to open only media-nommer's POST /job/submit to the networks listed"
    )
