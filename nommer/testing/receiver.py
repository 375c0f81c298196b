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
"""

import http.server
import json
import threading
import time


class Receiver:
    def __init__(self, statuses=(), *, redirect=None, verify=None, hold_first=False):
        self.posts = []
        self.release = threading.Event()
        if not hold_first:
            self.release.set()
        plan, receiver = list(statuses), self
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
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
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
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
