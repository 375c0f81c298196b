"""The HttpFront serves the Flask app with waitress. It binds its socket when
created, so a port in use fails the feeder's start at once; the server runs
in its own thread from on_start and stops in on_stop."""

import threading

import waitress

from nommer.actors import addresses, base


class HttpFront(base.Child):
    address = addresses.HTTP_FRONT
    name = "http_front"

    def __init__(self, app, host, port, threads=8):
        super().__init__()
        self.server = waitress.create_server(
            app, host=host, port=port, threads=threads, clear_untrusted_proxy_headers=True,
            ident="nommer",
        )
        self.thread = None
        self.closing = False

    @property
    def address(self):
        return self.server.effective_host, self.server.effective_port

    def on_start(self):
        self.thread = threading.Thread(target=self._serve, name="http", daemon=True)
        self.thread.start()
        host, port = self.address
        self.log.info("HTTP API listening", url=f"http://{host}:{port}/")

    def _serve(self):
        try:
            self.server.run()
        except (OSError, ValueError):
            # waitress stops by closing its sockets under its own select:
            # the loop then fails on them, which is how it ends.
            if not self.closing:
                raise

    def on_stop(self):
        self.closing = True
        self.server.close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def get_address(self):
        return self.address
