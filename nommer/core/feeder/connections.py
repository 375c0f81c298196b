"""Kept-alive HTTP(S) connections for webhook deliveries.

Every connection is made through the AddressPolicy (``netguard.connection``),
so a new one is checked against the very address it connects to; a kept one
was checked when it was made, and goes back to the host it was made for
(connections are kept by scheme, host and port).

A connection is kept only when its answer was read to the end within
``read_cap`` bytes (a receiver's long answer is not held in memory: the
connection is closed instead) and the receiver did not ask to close it.
One kept for ``idle_after`` seconds is closed, by the next request to its
host or by ``close_idle``: servers close idle connections themselves, often
after 5 s, and a request sent as they do is lost. A kept connection that
turns out closed before any answer came is replaced by a new one and the
request sent once more (a webhook may arrive twice anyway).

Threads: several (the Notifier's) send at once. Each takes a connection out
of the pool for one request, so a connection is used by one thread at a
time; ``lock`` guards ``idle`` and ``closed``, and nothing slow (no
network, no close of a socket) happens while it is held.
"""

import http.client
import select
import ssl
import threading
import time
import urllib.parse

from nommer.core.security import netguard

READ_CAP = 16 * 1024
IDLE_AFTER = 4.0
MAX_IDLE_PER_HOST = 4
MAX_IDLE = 32
#: what a kept connection the server has closed raises before any answer
_GONE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class ConnectionPool:
    def __init__(self, policy, *, idle_after=IDLE_AFTER, read_cap=READ_CAP,
                 max_per_host=MAX_IDLE_PER_HOST, max_idle=MAX_IDLE, context=None, clock=time.monotonic):
        self.policy = policy
        self.idle_after = idle_after
        self.read_cap = read_cap
        self.max_per_host = max_per_host
        self.max_idle = max_idle
        self.clock = clock
        self._context = context  # one TLS context for every https connection, made when first needed
        self.lock = threading.Lock()
        self.idle = {}  # (scheme, host, port) -> [(connection, idle since)], the newest last
        self.closed = False

    def post(self, url, body, headers, timeout):
        """POST ``body`` to ``url`` (http or https, without user info) and
        return the answer's status; raises OSError (AddressRefused among
        them), http.client.HTTPException or ValueError."""
        key, selector = _target(url)
        for retry in (False, True):
            conn, kept = self._take(key, timeout, fresh=retry)
            try:
                conn.request("POST", selector, body, headers)
                response = conn.getresponse()
            except _GONE:
                conn.close()
                if kept and not retry:
                    continue  # closed by the server while idle: once more on a new connection
                raise
            except BaseException:
                conn.close()
                raise
            self._finish(key, conn, response)
            return response.status

    def idle_count(self):
        with self.lock:
            return sum(len(kept) for kept in self.idle.values())

    def close_idle(self):
        """Close the connections idle for ``idle_after`` seconds; returns
        the seconds until the next of the others is due, or None when none
        is left."""
        now = self.clock()
        old, due = [], None
        with self.lock:
            for key in list(self.idle):
                kept = self.idle[key]
                fresh = [(c, since) for c, since in kept if now - since < self.idle_after]
                old += [c for c, since in kept if now - since >= self.idle_after]
                if fresh:
                    self.idle[key] = fresh
                    first = fresh[0][1] + self.idle_after - now
                    due = first if due is None else min(due, first)
                else:
                    del self.idle[key]
        _close(old)
        return due

    def close(self):
        """Close every idle connection; those in use are closed when their
        request ends."""
        with self.lock:
            self.closed = True
            kept, self.idle = self.idle, {}
        _close(c for pairs in kept.values() for c, _ in pairs)

    # -- inside -----------------------------------------------------------

    def _take(self, key, timeout, fresh):
        """(a connection for ``key``, whether it is a kept one)."""
        while not fresh:
            now, old = self.clock(), []
            with self.lock:
                kept = self.idle.get(key)
                conn = None
                if kept:
                    conn, since = kept.pop()
                    if now - since >= self.idle_after:
                        old = [conn] + [c for c, _ in kept]  # the older ones are older still
                        kept.clear()
                        conn = None
                    if not kept:
                        del self.idle[key]
            _close(old)
            if conn is None:
                break
            if _dropped(conn):
                conn.close()
                continue
            conn.timeout = timeout
            conn.sock.settimeout(timeout)
            return conn, True
        scheme, host, port = key
        context = None
        if scheme == "https":
            if self._context is None:
                self._context = ssl.create_default_context()
            context = self._context
        return netguard.connection(scheme, host, port, self.policy, timeout, context), False

    def _finish(self, key, conn, response):
        """Read the rest of ``response`` (up to the cap) and keep ``conn``
        when it can carry another request; else close it."""
        keep = not response.will_close
        if keep:
            try:
                rest = response.read(self.read_cap + 1)
                keep = len(rest) <= self.read_cap and response.isclosed()
            except (OSError, http.client.HTTPException):
                keep = False  # the status came; what follows does not change it
        if not keep:
            response.close()
            conn.close()
            return
        old = []
        with self.lock:
            if self.closed:
                old.append(conn)
            else:
                kept = self.idle.setdefault(key, [])
                kept.append((conn, self.clock()))
                if len(kept) > self.max_per_host:
                    old.append(kept.pop(0)[0])
                if sum(len(k) for k in self.idle.values()) > self.max_idle:
                    oldest = min(self.idle, key=lambda k: self.idle[k][0][1])
                    old.append(self.idle[oldest].pop(0)[0])
                    if not self.idle[oldest]:
                        del self.idle[oldest]
        _close(old)


def _target(url):
    """((scheme, host, port), the request's path and query) of ``url``,
    its host read as urllib reads it."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"unknown url type: {scheme or url!r}")
    host = urllib.parse.unquote(parts.hostname or "")
    if not host:
        raise ValueError(f"no host in {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    selector = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (scheme, host, port), selector


def _dropped(conn):
    """Whether a kept connection was closed (or sent something unasked):
    either way it cannot carry a request."""
    if conn.sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _close(connections):
    for conn in connections:
        try:
            conn.close()
        except OSError:
            pass
