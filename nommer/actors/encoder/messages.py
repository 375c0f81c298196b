import dataclasses


@dataclasses.dataclass(frozen=True)
class Work:
    """A job for the next stage."""

    task: object


@dataclasses.dataclass(frozen=True)
class Pull:
    """Ask the queue for work if there are free slots."""


@dataclasses.dataclass(frozen=True)
class SlotFreed:
    job_id: str
