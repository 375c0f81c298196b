"""What every supervised feeder actor shares: it tells the Supervisor when it
dies, it crashes on a message it does not know, and actors find each other
through the registry at send time (a restarted actor is a new actor)."""

import dataclasses
import functools

import pykka

from nommer.core import log


@dataclasses.dataclass(frozen=True)
class ChildFailed:
    name: str
    error: str


def lookup(actor_class):
    """The running actor of that class (or class name), or None: it may be
    restarting. Names avoid import cycles between actors that talk both ways."""
    if isinstance(actor_class, str):
        refs = pykka.ActorRegistry.get_by_class_name(actor_class)
    else:
        refs = pykka.ActorRegistry.get_by_class(actor_class)
    return refs[0] if refs else None


def tell(actor_class, message):
    """Send an event to the actor of that class; False when it is not there."""
    ref = lookup(actor_class)
    if ref is None:
        return False
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        return False
    return True


class StartFailed(Exception):
    """An actor did not start: its ``on_start`` raised, or it did not answer."""


# Why an actor's on_start failed, by actor URN, until its starter asks.
# Pykka sends an exception of on_start to its own handler, never to
# on_failure; the starter learns of it by pinging (see ping()).
_START_ERRORS = {}


class ReportsStart:
    """Mixin of every nommer actor: a failure in its ``on_start`` is kept for
    ping() to report, with its cause."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        start = cls.__dict__.get("on_start")
        if start is None or getattr(start, "_reports", False):
            return

        @functools.wraps(start)
        def on_start(self):
            try:
                start(self)
            except Exception as e:
                _START_ERRORS[self.actor_urn] = f"{type(e).__name__}: {e}"
                raise

        on_start._reports = True
        cls.on_start = on_start


def ping(ref, timeout=10.0):
    """Wait until the actor of ``ref`` has started and answers a message;
    raises StartFailed saying why when it did not (Mopidy pings each actor it
    starts before going on)."""
    try:
        ref.proxy().actor_urn.get(timeout=timeout)
    except pykka.ActorDeadError:
        why = _START_ERRORS.pop(ref.actor_urn, None)
        raise StartFailed(f"it failed to start: {why}" if why else "it stopped as it started") from None
    except pykka.Timeout:
        raise StartFailed(f"it did not answer within {timeout:g} s of starting") from None
    _START_ERRORS.pop(ref.actor_urn, None)


class Child(ReportsStart, pykka.ThreadingActor):
    """A feeder actor the Supervisor starts and restarts."""

    name = "child"

    def __init__(self):
        super().__init__()
        self.log = log.get(f"nommer.{self.name}")

    def on_receive(self, message):
        raise TypeError(f"{self.name} got a message it does not handle: {message!r}")

    def on_failure(self, exception_type, exception_value, traceback):
        self.log.error("actor crashed", error=repr(exception_value),
                       exc_info=(exception_type, exception_value, traceback))
        tell("Supervisor", ChildFailed(self.name, f"{exception_type.__name__}: {exception_value}"))
