"""How the feeder's actors address each other: one constant per actor.

An actor class carries its ``address``; a sender names the address, never
a class name in a string, so a renamed class keeps its mail and a missing
import cannot go unnoticed. Actors that talk both ways need no import of
each other: both import this module.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Address:
    name: str  # as logs, /health and errors name the actor

    def __str__(self):
        return self.name


JOB_TRACKER = Address("JobTracker")
DISPATCHER = Address("Dispatcher")
NOTIFIER = Address("Notifier")
SCALER = Address("Scaler")
REAPER = Address("Reaper")
HTTP_FRONT = Address("HttpFront")
SUPERVISOR = Address("Supervisor")
