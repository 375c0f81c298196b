"""A webhook receiver on loopback for tests: it keeps every POST it gets
and answers as it is told to.

Each POST is kept in ``posts`` as a dict: ``path`` (with its query),
``headers`` (names in lower case), ``type`` (the Content-Type), ``body``
(bytes), ``text`` (the body decoded), ``at`` (time.monotonic() when it
came) and, with ``verify``, ``verified`` (what ``verify(headers, body)``
said of it).

- ``statuses``: the status of each answer in turn; 204 once they run out.
- ``redirect``: a Location header sent with every answer.
- A POST cut off before its whole body came is not kept.
- ``hold_first``: the first delivery is not answered until ``release`` is
  set (close() sets it), to play a slow receiver.
- ``keep_alive``: answer in HTTP/1.1 and keep connections open, as most web
  servers do (by default each answer closes its connection); ``connections``
  counts the connections accepted.
- ``answer``: the body of every answer (bytes).
- ``idle_timeout``: with ``keep_alive``, close a connection idle this many
  seconds without telling the client, as web servers do.
- ``tls``: an ssl.SSLContext (server side) to answer over HTTPS with.
- ``drop_kept``: with ``keep_alive``, close a connection when a second
  request comes on it, without an answer (that request is not kept): a
  server that closed the connection just as the request went out.
"""

import http.server
import json
import threading
import time


class Receiver:
    def __init__(self, statuses=(), *, redirect=None, verify=None, hold_first=False,
                 keep_alive=False, answer=b"", idle_timeout=None, drop_kept=False, tls=None):
        self.posts = []
        self.connections = 0  # accepted
        self.ended = 0  # closed, by either side
        self.release = threading.Event()
        if not hold_first:
            self.release.set()
        plan, receiver = list(statuses), self
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
            timeout = idle_timeout

            def setup(self):
                super().setup()
                self.served = 0
                with lock:
                    receiver.connections += 1

            def finish(self):
                try:
                    super().finish()
                finally:
                    with lock:
                        receiver.ended += 1

            def do_POST(self):
                self.served += 1
                if drop_kept and self.served > 1:
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender went away mid-request (a killed feeder):
                    # a web server would not take it as a delivery either.
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                post = {"path": self.path, "headers": headers, "type": headers.get("content-type"),
                        "body": body, "text": body.decode(), "at": time.monotonic()}
                if verify is not None:
                    post["verified"] = verify(headers, body)
                with lock:
                    first = not receiver.posts
                    receiver.posts.append(post)
                    status = plan.pop(0) if plan else 204
                if first:
                    receiver.release.wait(10)
                self.send_response(status)
                if redirect:
                    self.send_header("Location", redirect)
                if status != 204:
                    self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if status != 204:
                    self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __len__(self):
        return len(self.posts)

    def bodies(self):
        """The JSON bodies received so far, parsed, in order."""
        return [json.loads(post["body"]) for post in list(self.posts)
                if post["type"] == "application/json"]

    def states(self, job_id):
        """The states the JSON notifications told of job ``job_id``, in order."""
        return [body["state"] for body in self.bodies() if body["job_id"] == job_id]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
