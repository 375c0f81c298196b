"""``python -m nommer.testing.simpledb --port PORT [--host 127.0.0.1] [--persist FILE]
[--fail-rate 0.1 [--seed N]]``: serve until SIGTERM or Ctrl-C."""

import argparse
import logging
import signal
import sys
import threading

from . import limits
from .server import start_server
from .store import StoreFileError


def _rate(text):
    rate = float(text)
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return rate


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m nommer.testing.simpledb",
        description="A SimpleDB-compatible server (2009-04-15 Query API) for tests and "
                    "offline development.")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--persist", metavar="FILE",
                        help="JSON file the domains are loaded from and saved to")
    parser.add_argument("--fail-rate", type=_rate, default=0.0,
                        help="fraction of requests answered with 503 ServiceUnavailable")
    parser.add_argument("--seed", type=int, help="seed of the failure injection")
    parser.add_argument("--query-timeout", type=float, default=limits.QUERY_TIMEOUT,
                        help="seconds a Select may run before answering what it has")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server, url = start_server(args.port, host=args.host, persist=args.persist,
                                   fail_rate=args.fail_rate, seed=args.seed,
                                   query_timeout=args.query_timeout)
    except StoreFileError as error:
        print(f"simpledb: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"simpledb: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
              file=sys.stderr)
        return 2
    stopping = threading.Event()
    # The handlers only set the event: stopping the server from inside a signal
    # handler could deadlock with the serving thread.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    print(f"SimpleDB-compatible server listening on {url}", flush=True)
    try:
        stopping.wait()
    finally:
        server.stop()
    print("SimpleDB-compatible server stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
