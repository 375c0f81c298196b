"""What every supervised feeder actor shares: it tells the Supervisor when it
dies, it crashes on a message it does not know, and actors find each other
through the registry at send time (a restarted actor is a new actor)."""

import dataclasses

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


class Child(pykka.ThreadingActor):
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
