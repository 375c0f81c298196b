"""Which addresses nommer's own HTTP requests (source downloads, webhooks) may reach.

A URL from the network must not turn an encoder or the feeder into a way into
the machines around it: loopback, private, link-local (the cloud metadata
service at 169.254.169.254 and fd00:ec2::254), multicast, unspecified and
reserved addresses are refused, however they are spelled (``2130706433``,
``0x7f.1``, ``::ffff:127.0.0.1``...), unless the ``allowed_networks``
setting lists them.

A name is checked twice: when the job is submitted (so that the user hears
at once) and on every connection, redirects included, against the address
the socket actually connects to, so a name that resolves elsewhere by then
(DNS rebinding) gains nothing.
"""

import functools
import http.client
import ipaddress
import re
import socket
import ssl
import urllib.parse
import urllib.request

from nommer.core.errors import InvalidInput

METADATA = frozenset({
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_ZONE = re.compile(r"^[0-9a-f:.]+%[^%]*$", re.IGNORECASE)  # fe80::1%eth0: a zone, not an escape
_KINDS = (  # checked in this order; the first that applies is the reason given
    ("is_loopback", "a loopback address"),
    ("is_unspecified", "an unspecified address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)
MAX_REDIRECTS = 5


class AddressRefused(OSError):
    """A connection nommer will not make; the message says where and why."""


def normal_host(host):
    """``host`` as a resolver reads it: percent-decoded, lower case, without
    brackets or trailing dots, and international names in their IDNA (ASCII)
    form, so that ``%31%32%37.0.0.1`` and ``①②⑦.0.0.1`` are checked as the
    127.0.0.1 they reach."""
    text = urllib.parse.unquote(host.strip(), errors="replace").strip("[]").rstrip(".").lower()
    if text.isascii():
        return text
    try:
        # The C library gets names encoded this way by Python's socket
        # module: the same mapping (NFKC, ①→1, fullwidth→ASCII) on both sides.
        return text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return text


def parse_ip(host):
    """The IP address ``host`` spells, or None when it is a name.

    Takes what a URL may hold: ``[::1]``, ``fe80::1%eth0``, and the spellings
    the C library's inet_aton also reads (``2130706433``, ``0177.0.0.1``,
    ``0x7f.1``, ``127.1``).
    """
    text = host.strip().strip("[]").rstrip(".")
    if "%" in text and not _ZONE.search(text):
        text = normal_host(text)
    elif not text.isascii():
        text = normal_host(text)
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if text and all(ch in "0123456789abcdefxABCDEFX." for ch in text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


class AddressPolicy:
    """Refuses non-public addresses, except in ``allowed_networks`` (CIDR texts)."""

    def __init__(self, allowed_networks=()):
        self.allowed = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]

    @classmethod
    def from_config(cls, config):
        return cls(config.allowed_networks)

    def refusal(self, ip):
        """Why nommer may not connect to ``ip`` (text or address), or None."""
        ip = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # the socket reaches the IPv4 address
        inner = _embedded_ipv4(ip)
        for candidate in (ip, inner):
            if candidate is None or self._allowed(candidate):
                continue
            reason = _kind(candidate)
            if reason:
                return reason
        return None

    def _allowed(self, ip):
        return any(ip.version == net.version and ip in net for net in self.allowed)

    def check_url(self, url, field, resolve=True):
        """Raise InvalidInput naming ``field`` when ``url``'s host is, or
        resolves to, an address that is refused. A name that does not
        resolve now passes: the connection is checked again anyway."""
        from nommer.core.security.credentials import shown

        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        for ip in self.addresses(host, resolve=resolve):
            reason = self.refusal(ip)
            if reason:
                via = "" if parse_ip(host) == ip else f" (it resolves to {ip})"
                raise InvalidInput(
                    field,
                    f"{shown(url)!r} names {host}{via}, {reason}; nommer does not "
                    "connect to such addresses unless the allowed_networks setting lists them",
                )

    def addresses(self, host, port=None, resolve=True):
        """The IP addresses ``host`` stands for ([] when it does not resolve)."""
        literal = parse_ip(host)
        if literal is not None:
            return [literal]
        name = normal_host(host)
        if name == "localhost" or name.endswith(".localhost"):
            return [ipaddress.ip_address("127.0.0.1")]  # RFC 6761: never sent to DNS
        if not resolve:
            return []
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, ValueError):
            return []
        return list(dict.fromkeys(
            ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos
        ))

    def create_connection(self, address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT,
                          source_address=None, **_ignored):
        """``socket.create_connection`` that connects only to allowed addresses,
        and to exactly the address it checked."""
        host, port = address
        ips = self.addresses(host, port)
        if not ips:
            raise OSError(f"cannot resolve {host}")
        error = None
        for ip in ips:
            reason = self.refusal(ip)
            if reason:
                where = f"{ip} is" if parse_ip(host) == ip else f"{host} resolves to {ip},"
                error = AddressRefused(
                    f"{where} {reason}; nommer does not connect to such "
                    "addresses unless the allowed_networks setting lists them")
                continue
            try:
                return socket.create_connection((str(ip), port), timeout, source_address)
            except OSError as e:
                error = e
        raise error


def _kind(ip):
    """What makes ``ip`` not a public address, or None when it is one."""
    if ip in METADATA:
        return "the cloud metadata address"
    for attribute, reason in _KINDS:
        if getattr(ip, attribute):
            return reason
    if not ip.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(ip):
    """The IPv4 address inside a mapped, 6to4, Teredo or NAT64 IPv6 address."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


# -- urllib with the policy on every connection --------------------------------


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, policy, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = policy.create_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, policy, **kwargs):
        super().__init__(*args, **kwargs)
        # HTTPSConnection.connect makes the TCP connection through this, then
        # wraps it in TLS for self.host: the certificate is still checked.
        self._create_connection = policy.create_connection


def connection(scheme, host, port, policy, timeout, context=None):
    """A new http.client connection to ``host``:``port`` whose socket is
    made through ``policy`` when it connects (see AddressPolicy.create_connection);
    ``https`` checks the certificate against ``host`` with ``context`` (by
    default the system's CAs, as urllib does)."""
    if scheme == "https":
        return _GuardedHTTPSConnection(host, port, timeout=timeout, policy=policy,
                                       context=context or ssl.create_default_context())
    if scheme == "http":
        return _GuardedHTTPConnection(host, port, timeout=timeout, policy=policy)
    raise ValueError(f"unknown url type: {scheme!r}")


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, policy):
        super().__init__()
        self.policy = policy

    def http_open(self, req):
        return self.do_open(functools.partial(_GuardedHTTPConnection, policy=self.policy), req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, policy):
        super().__init__()
        self.policy = policy

    def https_open(self, req):
        return self.do_open(
            functools.partial(_GuardedHTTPSConnection, policy=self.policy), req, context=self._context
        )


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS


def opener(policy, follow_redirects=True):
    """A urllib opener for http(s) only, every connection checked by ``policy``.

    It ignores proxy variables (a proxy would hide the address reached) and
    has no ftp, file or data handler, so a redirect cannot leave http(s).
    Without ``follow_redirects`` a 3xx answer raises HTTPError.
    """
    director = urllib.request.OpenerDirector()
    handlers = [
        urllib.request.UnknownHandler(),
        _GuardedHTTPHandler(policy),
        _GuardedHTTPSHandler(policy),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ]
    if follow_redirects:
        handlers.append(_RedirectHandler())
    for handler in handlers:
        director.add_handler(handler)
    return director


def refused_reason(error):
    """The AddressRefused inside a urllib error, or None."""
    reason = getattr(error, "reason", error)
    return reason if isinstance(reason, AddressRefused) else None


