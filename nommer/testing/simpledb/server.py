"""The HTTP side: a threaded server that answers the SimpleDB Query API over
POST (form-encoded, as boto3 sends it) or GET, without checking signatures.

``fail_rate`` injects SimpleDB's throttling answer (HTTP 503,
``ServiceUnavailable``) into that fraction of requests, before they do
anything, so clients' retry paths can be tested.
"""

import logging
import random
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import answers, api, limits
from .errors import SdbError, service_unavailable
from .store import Store

log = logging.getLogger("nommer.testing.simpledb")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nommer-simpledb"
    # Headers and body leave in two writes; with Nagle's algorithm the second
    # waits for the client's delayed ACK, some 40 ms a request.
    disable_nagle_algorithm = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        query = urlsplit(self.path).query
        self._answer(query + "&" + body if query else body)

    def do_GET(self):
        self._answer(urlsplit(self.path).query)

    def _answer(self, form):
        request_id = str(uuid.uuid4())
        try:
            if self.server.should_fail():
                raise service_unavailable()
            params = dict(parse_qsl(form, keep_blank_values=True))
            status, body = 200, api.handle(self.server.store, params, request_id)
        except SdbError as error:
            status, body = error.status, answers.error(error, request_id)
        except Exception:  # a bug here must reach the client as a 500, not a hang
            log.exception("SimpleDB request %s failed", request_id)
            error = SdbError("InternalError", "We encountered an internal error. "
                                              "Please try again.")
            status, body = error.status, answers.error(error, request_id)
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)


class SimpleDbServer(ThreadingHTTPServer):
    """A SimpleDB-compatible server bound to ``address`` around ``store``.
    :meth:`start` serves from a thread; :meth:`stop` ends it and frees the port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, store, *, fail_rate=0.0, seed=None):
        super().__init__(address, _Handler)
        self.store = store
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self.fail_rate = fail_rate
        self._thread = None
        # Open connections, so that stop() can close the kept-alive ones that
        # would otherwise go on being served by their threads.
        self._connections = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    @property
    def fail_rate(self):
        """The fraction (0 to 1) of requests answered with ServiceUnavailable."""
        return self._fail_rate

    @fail_rate.setter
    def fail_rate(self, rate):
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fail_rate must be between 0 and 1, not {rate}")
        self._fail_rate = rate

    def should_fail(self):
        """Whether this request is one of the injected failures."""
        if self._fail_rate <= 0.0:
            return False
        with self._random_lock:
            return self._random.random() < self._fail_rate

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        # A short poll interval so that stop() returns promptly.
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,),
                                        name="simpledb-server", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving, close open connections and the listening socket; a
        request being answered finishes first."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its client
        self.server_close()


def start_server(port=0, *, host="127.0.0.1", persist=None, fail_rate=0.0, seed=None,
                 query_timeout=limits.QUERY_TIMEOUT):
    """Start a SimpleDB-compatible server in a thread of this process and
    return ``(server, url)``; ``port=0`` takes a free port. ``persist`` names a
    JSON file the domains are loaded from and saved to; ``fail_rate`` and
    ``seed`` inject throttling (see the module); ``query_timeout`` is the
    seconds a Select may run before answering with what it has. Stop it with
    ``server.stop()``."""
    store = Store(persist, query_timeout=query_timeout)
    server = SimpleDbServer((host, port), store, fail_rate=fail_rate, seed=seed).start()
    return server, server.url
