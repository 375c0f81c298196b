"""What every supervised feeder actor shares: it tells the Supervisor when it
dies, it crashes on a message it does not know, and actors find each other
by address (nommer/actors/addresses.py) in the registry at send time (a
restarted actor is a new actor)."""

import collections
import dataclasses
import functools
import threading

import pykka

from nommer.actors import addresses
from nommer.core import log

_log = log.get("nommer.actors")
# Messages told to an actor that was not running, by its address's name.
UNDELIVERED = collections.Counter()
_undelivered_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class ChildFailed:
    name: str
    error: str
    urn: str = ""  # the actor that failed, when it says so itself


# The actor last found at each address: asked first, while it runs (every
# tell looks its receiver up, and the registry is a list to copy and scan).
_found = {}


def lookup(address):
    """The running actor at ``address`` (an addresses.Address), or None: it
    may be restarting."""
    if not isinstance(address, addresses.Address):
        raise TypeError(f"actors are addressed by an Address, not {address!r}")
    ref = _found.get(address)
    if ref is not None and ref.is_alive():
        return ref
    for ref in pykka.ActorRegistry.get_all():
        if getattr(ref.actor_class, "address", None) == address and ref.is_alive():
            _found[address] = ref
            return ref
    return None


def tell(address, message):
    """Send an event to the actor at ``address``. When it is not running
    (restarting, or gone) the message is logged and counted, and False is
    returned: the sender decides whether that matters."""
    ref = lookup(address)
    if ref is not None:
        try:
            ref.tell(message)
            return True
        except pykka.ActorDeadError:
            pass
    with _undelivered_lock:
        UNDELIVERED[address.name] += 1
    _log.warning("message to an actor that is not running", to=address.name,
                 message=type(message).__name__)
    return False


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
        tell(addresses.SUPERVISOR, ChildFailed(self.name, f"{exception_type.__name__}: {exception_value}",
                                               self.actor_urn))
