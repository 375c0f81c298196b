"""A loopback stand-in for the EC2 instance metadata service, IMDSv2 only.

The real service answers only inside an EC2 instance (169.254.169.254), so
the tests talk to this one: it hands out a session token on
``PUT /latest/api/token`` and answers ``GET /latest/meta-data/...`` only with
that token, as IMDSv2 does when IMDSv1 is disabled.

On a spot instance (``lifecycle="spot"``) it answers 404 at
``spot/instance-action`` and ``events/recommendations/rebalance`` until a test
calls :meth:`announce_interruption` or :meth:`recommend_rebalance`, as EC2 does.
"""

import datetime
import http.server
import json
import secrets
import threading
import time


class ImdsServer:
    def __init__(self, instance_id, region, lifecycle="on-demand"):
        self.values = {"instance-id": instance_id, "placement/region": region,
                       "instance-life-cycle": lifecycle}
        self.announced_at = None  # time.monotonic() of the announcement
        self.token = secrets.token_hex(16)
        self.accept_tokens = True
        self.requests = []  # (method, path, had a valid token)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                ok = self.path == "/latest/api/token" and \
                    self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "").isdigit()
                server.requests.append(("PUT", self.path, ok))
                self._answer(200, server.token.encode()) if ok else self._answer(400)

            def do_GET(self):
                valid = server.accept_tokens and \
                    self.headers.get("X-aws-ec2-metadata-token") == server.token
                server.requests.append(("GET", self.path, valid))
                if not valid:
                    return self._answer(401)
                key = self.path.removeprefix("/latest/meta-data/")
                if key not in server.values:
                    return self._answer(404)
                self._answer(200, server.values[key].encode())

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @staticmethod
    def _in(seconds):
        when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    def announce_interruption(self, action="terminate"):
        """EC2's two-minute notice: the instance is taken back."""
        self.announced_at = time.monotonic()
        self.values["spot/instance-action"] = json.dumps({"action": action, "time": self._in(120)})

    def recommend_rebalance(self):
        """EC2's rebalance recommendation: the instance is at raised risk."""
        self.announced_at = time.monotonic()
        self.values["events/recommendations/rebalance"] = json.dumps({"noticeTime": self._in(0)})

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
