"""The Fleet port: the encoder machines (or processes) the Scaler manages.

Adapters: ``nommer.core.adapters.local_fleet`` (encoder subprocesses) and, for
AWS, an EC2 one.
"""

import abc
import dataclasses


@dataclasses.dataclass(frozen=True)
class Member:
    id: str  # the encoder id it heartbeats under
    state: str  # "starting", "running", "stopping", "stopped"
    started_at: str
    detail: str = ""


class Fleet(abc.ABC):
    @abc.abstractmethod
    def launch(self, count):
        """Start ``count`` encoders; returns their Members."""

    @abc.abstractmethod
    def members(self):
        """The encoders this fleet started that have not stopped, refreshed now."""

    @abc.abstractmethod
    def retire(self, member_id):
        """Stop one encoder (it finishes or releases its work first)."""

    def stop_all(self, timeout=10.0):
        """Stop every encoder this fleet started (feeder shutdown)."""
        for member in self.members():
            self.retire(member.id)
