"""``python -m nommer.feeder``: the JSON API, job state, queueing, scaling and
reaping, as a supervised set of actors in one process.

One straight-line run: start the actors in dependency order under the
Supervisor, wait for a signal (or for the Supervisor to give up), stop them in
reverse, then stop the fleet this feeder started.
"""

import argparse
import signal
import sys
import threading

import pykka

from nommer.actors import base
from nommer.actors.dispatcher import Dispatcher
from nommer.actors.gateway import ActorGateway
from nommer.actors.http_front import HttpFront
from nommer.actors.job_tracker import JobTracker
from nommer.actors.messages import Arrivals
from nommer.actors.notifier import Notifier
from nommer.actors.reaper import Reaper
from nommer.actors.scaler import Scaler
from nommer.actors.supervisor import ChildSpec, Supervisor
from nommer.core import backends as backends_mod
from nommer.core import ffmpeg
from nommer.core import config as config_mod
from nommer.core.security import credentials, api_tokens as tokens
from nommer.core import log
from nommer.core.feeder.folder_lock import FolderLock
from nommer.core.feeder.metrics import FeederMetrics
from nommer.core.feeder.intake import Intake
from nommer.core.errors import ConfigError
from nommer.core.security.netguard import AddressPolicy
from nommer.core.feeder.service import JobService
from nommer.http.app import create_app
from nommer.http.metrics import health_snapshot


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m nommer.feeder",
        description="Run the nommer feeder: the HTTP API and the actors that "
        "queue, scale and watch encoding jobs.",
    )
    parser.add_argument("--config", help="TOML settings file")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8001)")
    parser.add_argument("--data-dir", help="data folder (default ./nommer-data)")
    return parser.parse_args(argv)


class Feeder:
    """The feeder's actors over one set of backends; ``start`` and ``stop``
    are for run() and for tests that run a feeder in their own process."""

    def __init__(self, config):
        self.config = config
        self.log = log.get("nommer.feeder")
        self.fatal = threading.Event()
        self.fatal_reason = ""
        self.parts = None
        self.fleet = None
        self.supervisor = None
        self.lock = FolderLock(config.data_dir)
        # Counters outlive a restarted actor: they belong to the feeder.
        self.metrics = FeederMetrics()

    def _give_up(self, name, error):
        self.fatal_reason = f"the {name} actor kept crashing: {error}"
        self.fatal.set()

    def start(self):
        config = self.config
        self.lock.acquire()
        self.parts = backends_mod.build(config)
        self.fleet = backends_mod.build_fleet(config)
        parts, fleet = self.parts, self.fleet
        presets = ffmpeg.catalogue(config.presets)
        intake = Intake(JobService(parts.store, parts.storage, AddressPolicy.from_config(config),
                                   credentials.SecretBox.from_config(config), presets),
                        parts.new_jobs, parts.state_changes)
        # New jobs on their way from the HTTP threads to the JobTracker: kept
        # here, so that a JobTracker restarted takes those told to the last.
        arrivals = Arrivals()
        gateway = ActorGateway(config.request_timeout, intake, presets, fleet_problems=fleet.problems,
                               arrivals=arrivals)
        metrics = self.metrics
        metrics.watch(lambda: {**health_snapshot(gateway), "encoders": gateway.encoder_states(),
                               "pieces": gateway.piece_states(),
                               "queues": _queue_depths(parts), "undelivered": dict(base.UNDELIVERED)})
        app = create_app(gateway, max_body_bytes=config.max_body_bytes, api_tokens=config.api_tokens,
                         legacy_networks=config.legacy_networks, feeder_metrics=metrics)
        specs = [
            ChildSpec("job_tracker", lambda: JobTracker.start(config, parts.store, parts.storage, metrics,
                                                                 arrivals)),
            ChildSpec("notifier", lambda: Notifier.start(config, metrics=metrics)),
            ChildSpec("dispatcher", lambda: Dispatcher.start(config, parts.new_jobs, parts.state_changes)),
            ChildSpec("scaler", lambda: Scaler.start(config, fleet, parts.store, metrics)),
            ChildSpec("reaper", lambda: Reaper.start(config, parts.store, parts.new_jobs, parts.storage)),
            ChildSpec("http_front", lambda: HttpFront.start(app, config.host, config.port)),
        ]
        self.supervisor = Supervisor.start(specs, config.max_restarts, config.restart_window, self._give_up)
        self.supervisor.proxy().start_children().get(timeout=30)
        return self

    def address(self):
        ref = pykka.ActorRegistry.get_by_class(HttpFront)[0]
        return ref.proxy().get_address().get(timeout=5)

    def stop(self):
        try:
            if self.supervisor is not None and self.supervisor.is_alive():
                self.supervisor.proxy().stop_children().get(timeout=60)
                self.supervisor.stop()
        finally:
            if self.fleet is not None:
                self.fleet.stop_all(timeout=self.config.stop_grace + 5)
            pykka.ActorRegistry.stop_all()
            if self.parts is not None:
                self.parts.close()
            self.lock.release()


def _authentication(config):
    """How callers are let in, for the start-up log line."""
    if config.api_tokens:
        said = "bearer tokens"
    elif config.legacy_networks:
        said = "none from loopback; other callers only POST /job/submit"
    else:
        said = "none (loopback only)"
    if config.legacy_networks:
        said += "; POST /job/submit without a token from " + ", ".join(config.legacy_networks)
    return said


def _queue_depths(parts):
    depths = {}
    for name, queue in (("new_jobs", parts.new_jobs), ("state_changes", parts.state_changes)):
        try:
            depths[name] = queue.depth()
        except Exception:  # a queue that does not answer now leaves its series out
            pass
    return depths


def run(config, stop):
    """Run the feeder until ``stop`` is set; returns the exit status."""
    feeder = Feeder(config)
    logger = feeder.log
    try:
        feeder.start()
        host, port = feeder.address()
        logger.info("feeder started", url=f"http://{host}:{port}/", backend=config.backend,
                    data_dir=str(config.data_dir), max_encoders=config.encoders_max,
                    authentication=_authentication(config),
                    webhooks_signed=bool(config.webhook_secret))
        while not stop.wait(0.5) and not feeder.fatal.is_set():
            pass
    except ConfigError as e:  # the backends or the fleet found a setting wrong
        print(f"nommer feeder: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        logger.error("cannot listen", host=config.host, port=config.port, error=str(e))
        print(f"nommer feeder: cannot listen on {config.host}:{config.port}: {e.strerror or e}; "
              "choose another --port or stop the other program", file=sys.stderr)
        return 2
    finally:
        logger.info("feeder stopping")
        feeder.stop()
        logger.info("feeder stopped")
    if feeder.fatal.is_set():
        print(f"nommer feeder: {feeder.fatal_reason}", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        config = config_mod.load(args.config, overrides={
            "host": args.host, "port": args.port, "data_dir": args.data_dir,
        })
        tokens.check_exposure(config)
    except ConfigError as e:
        print(f"nommer feeder: {e}", file=sys.stderr)
        return 2
    log.configure_from(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return run(config, stop)


if __name__ == "__main__":
    sys.exit(main())
