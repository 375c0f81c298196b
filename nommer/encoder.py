"""``python -m nommer.encoder``: pull jobs, fetch, encode with ffmpeg, upload.

One straight-line run: start the actors in dependency order, wait for a stop
(signal, idle time or a spot interruption notice), stop intake first, let work in flight finish within the
grace period, hand the rest back to the queue, stop the rest in reverse.
"""

import argparse
import os
import signal
import sys
import threading
import time

import pykka

from nommer.actors import base
from nommer.actors.encoder.keeper import Keeper
from nommer.actors.encoder.messages import SlotFreed
from nommer.actors.encoder.puller import Puller
from nommer.actors.encoder.spot import SpotWatcher
from nommer.actors.encoder.stages import Encoder, Fetcher, Uploader
from nommer.core import backends as backends_mod
from nommer.core.backends import NoIdentity
from nommer.core import config as config_mod
from nommer.core import log
from nommer.core.encoder import shutdown
from nommer.core.encoder.core import EncoderCore
from nommer.core.errors import ConfigError
from nommer.core.model.jobs import utcnow


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m nommer.encoder",
        description="Run one nommer encoder: take jobs from the queue and encode them.",
    )
    parser.add_argument("--config", help="TOML settings file")
    parser.add_argument("--data-dir", help="data folder (default ./nommer-data)")
    parser.add_argument("--instance-id", help="id this encoder reports under (default: on AWS "
                        "the instance id from the metadata service, else HOST-PID)")
    return parser.parse_args(argv)


def wait_until(predicate, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True


def identify(config, instance_id, logger):
    """The id this encoder reports under, and its config with what its
    machine told filled in (on AWS: the instance id and region from the
    instance metadata service, IMDSv2, when not given); NoIdentity when the
    machine must tell and cannot. Elsewhere the id is HOST-PID."""
    return backends_mod.profile(config).identify(config, instance_id)


def give_up(config, reason, logger):
    """Leave this machine: say why, ask it to shut down (shutdown_command),
    and return the exit status that tells systemd not to start the encoder
    again (and, on EC2, to power the instance off)."""
    print(f"nommer encoder: {reason}; giving up this machine", file=sys.stderr)
    logger.error("giving up this machine", reason=reason)
    shutdown.shut_down(config, logger)
    return shutdown.EXIT_GIVE_UP


def end_machine(config, encoder_id, logger):
    """After an idle stop: end the machine (on AWS, terminate the instance).
    Returns the exit status: 1 when that failed, so that systemd starts the
    encoder again and the next idle stop tries again."""
    try:
        if backends_mod.profile(config).end_machine(config, encoder_id):
            logger.info("idle: terminating this instance", instance_id=encoder_id)
    except Exception as e:  # whatever stopped it, a restart by systemd tries again
        logger.error("could not terminate this instance", instance_id=encoder_id, error=str(e))
        return 1
    return 0


def spot_imds(config, logger):
    """The metadata service to watch for spot interruption notices, and this
    instance's market ("spot", "on-demand" or "" when not said); no service
    (None) where spot notices do not apply (off AWS, on an on-demand
    instance, when the service does not answer) or with spot_check_interval 0."""
    if config.spot_check_interval <= 0:
        return None, ""
    return backends_mod.profile(config).spot_watch(config, logger)


def hand_back(core, noticed_at, logger):
    """A spot notice came: every job in flight goes back to the queue at once
    as a fresh message (Task.release_on_cancel), its attempt not counted."""
    handed = set()

    def all_handed_back():
        # Again at each look: a claim under way when the notice came adds its task late.
        tasks = core.in_flight()
        for task in tasks:
            if task.id not in handed:
                handed.add(task.id)
                task.release_on_cancel = True
                task.stop()
        return not tasks

    all_back = wait_until(all_handed_back, 15.0, step=0.05)
    logger.warning("spot interruption: work handed back", jobs=len(handed), all_back=all_back,
                   seconds=round(time.monotonic() - noticed_at, 2))


def run(config, encoder_id, stop):
    """Run the encoder until ``stop`` (a threading.Event) is set. Returns the
    exit status."""
    logger = log.get("nommer.encoder", encoder_id=encoder_id)
    parts = backends_mod.build(config)
    core = EncoderCore(config, parts, encoder_id)
    refs = {}
    idle = threading.Event()
    lost = threading.Event()
    interrupted = threading.Event()
    noticed_at = []

    def on_notice(notice):
        noticed_at.append(time.monotonic())
        core.interruption = notice.to_dict()
        core.intake_open = False
        interrupted.set()
        stop.set()

    def on_idle():
        idle.set()
        stop.set()

    def on_lost_contact():
        lost.set()
        stop.set()

    def slot_freed(job_id):
        # tell, not ask: the Puller may be waiting on the queue, and an ask
        # back up the chain would wait with it.
        refs["puller"].tell(SlotFreed(job_id))

    slots = config.jobs_per_encoder
    started = []
    # Locally: the pid file the fleet finds this encoder again by, and no
    # work folders of dead encoders left behind.
    release_machine = backends_mod.profile(config).prepare_machine(config, encoder_id, logger)
    imds, core.market = spot_imds(config, logger)
    started_at = utcnow()
    try:
        refs["keeper"] = Keeper.start(core, on_idle=on_idle, on_lost_contact=on_lost_contact,
                                      started_at=started_at)
        started.append(refs["keeper"])
        base.ping(refs["keeper"])
        refs["uploader"] = Uploader.start(core, slots, None, slot_freed)
        started.append(refs["uploader"])
        base.ping(refs["uploader"])
        refs["encoder"] = Encoder.start(core, slots, refs["uploader"], slot_freed)
        started.append(refs["encoder"])
        base.ping(refs["encoder"])
        refs["fetcher"] = Fetcher.start(core, slots, refs["encoder"], slot_freed)
        started.append(refs["fetcher"])
        base.ping(refs["fetcher"])
        refs["puller"] = Puller.start(core, refs["fetcher"], slots, config.poll_wait)
        started.append(refs["puller"])
        base.ping(refs["puller"])
        if imds is not None:
            refs["spot"] = SpotWatcher.start(core, imds, on_notice)
            started.append(refs["spot"])
            base.ping(refs["spot"])
        logger.info("encoder started", slots=slots, data_dir=str(config.data_dir),
                    market=core.market or None, watching_spot=imds is not None)
        while not stop.wait(0.1 if imds is not None else 0.5):
            pass
        logger.info("encoder stopping", in_flight=len(core.in_flight()))
        if interrupted.is_set():
            # Two minutes at most are left: hand everything back now (the
            # Puller takes nothing more, core.intake_open), before stopping
            # the Puller, which may be in a long poll.
            hand_back(core, noticed_at[0], logger)
        # Intake first, then let work in flight finish, then hand back the rest.
        started.remove(refs["puller"])
        refs["puller"].stop()
        if not wait_until(lambda: not core.in_flight(), config.stop_grace):
            for task in core.in_flight():
                task.release_on_cancel = True
                task.stop()
            wait_until(lambda: not core.in_flight(), 15.0)
    finally:
        for ref in reversed(started):
            ref.stop()
        pykka.ActorRegistry.stop_all()
        try:
            if interrupted.is_set():
                # Kept, marked interrupted, for /fleet; the Reaper removes it
                # as it does every record no longer refreshed.
                parts.store.heartbeat(encoder_id, {"pid": os.getpid(), "started_at": started_at,
                                                   **core.heartbeat_fields()})
            else:
                parts.store.forget_encoder(encoder_id)
        except Exception:
            logger.exception("could not remove the heartbeat record")
        parts.close()
        release_machine()
        logger.info("encoder stopped", **core.stats)
    if lost.is_set():
        return give_up(config, f"no contact with the job store or the queue for "
                               f"lost_contact_timeout ({config.lost_contact_timeout:g} s)", logger)
    if idle.is_set() or interrupted.is_set():
        # Idle: its heartbeat record is gone by now, so the feeder does not
        # wait for it. Interrupted: the instance goes now rather than in two
        # minutes (or never, after a rebalance recommendation), so that the
        # Scaler sees it go and launches the capacity again.
        return end_machine(config, encoder_id, logger)
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        config = config_mod.load(args.config, overrides={"data_dir": args.data_dir})
    except ConfigError as e:
        print(f"nommer encoder: {e}", file=sys.stderr)
        return 2
    log.configure_from(config)
    logger = log.get("nommer.encoder")
    try:
        config, encoder_id = identify(config, args.instance_id, logger)
    except ConfigError as e:
        print(f"nommer encoder: {e}", file=sys.stderr)
        return 2
    except NoIdentity as e:
        return give_up(config, f"{e}; not starting", logger)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return run(config, encoder_id, stop)
    except ConfigError as e:  # the backends found a setting wrong
        print(f"nommer encoder: {e}", file=sys.stderr)
        return 2
    except base.StartFailed as e:  # an actor did not start; systemd tries again
        print(f"nommer encoder: an actor {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
