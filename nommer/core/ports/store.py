"""The JobStore port: job records and encoder heartbeats.

Adapters: ``nommer.core.adapters.sqlite_store`` (embedded default) and, for AWS,
``dynamodb_store`` (the default) and ``simpledb_store``. All pass
``tests/core/test_store_contract.py``.
"""

import abc
import base64
import binascii

from nommer.core.errors import InvalidInput
from nommer.core.model.jobs import TRANSITIONS, State

MAX_PAGE = 1000


class JobStore(abc.ABC):
    """Where jobs and encoder heartbeats live; shared by feeder and encoders."""

    @abc.abstractmethod
    def create(self, job):
        """Store a new job (its version must be 0, else ValueError) and return
        it at version 1.

        Raises AlreadyExists when a job with that id is stored.
        """

    @abc.abstractmethod
    def get(self, job_id):
        """The job with that id; raises NotFound."""

    def versions(self, job_ids):
        """``{job id: stored version}`` of those of ``job_ids`` that are
        stored: whether a job changed since it was read, at less cost than
        reading it where the adapter can say (this default reads each)."""
        from nommer.core.errors import NotFound

        found = {}
        for job_id in dict.fromkeys(job_ids):
            try:
                found[job_id] = self.get(job_id).version
            except NotFound:
                pass
        return found

    @abc.abstractmethod
    def update(self, job):
        """Write ``job`` if the stored version is still ``job.version``.

        Returns the stored record (version + 1). Raises NotFound when there is
        no such job, StaleWrite when another writer got there first, and
        InvalidTransition when the stored state may not move to ``job.state``.
        """

    @abc.abstractmethod
    def list(self, state=None, limit=50, cursor=None):
        """Jobs newest first, optionally of one state (a State or a set of them).

        Returns ``(jobs, next_cursor)``; pass ``next_cursor`` back for the next
        page; it is None on the last page.
        """

    @abc.abstractmethod
    def unfinished(self):
        """Every job not in a final state, oldest first."""

    def idle(self, states, before):
        """The unfinished jobs in ``states`` (a set of States) last changed
        before ``before`` (time text as ``utcnow`` writes it), oldest first.
        A store that can ask for them alone does; this reads every unfinished job."""
        return [j for j in self.unfinished() if j.state in states and j.updated_at < before]

    @abc.abstractmethod
    def counts(self, states=None):
        """``{state name: number of jobs}`` for every state that has jobs, or
        only for ``states`` (a State or a set of them) when given.

        Counting the unfinished states costs in proportion to the unfinished
        jobs, never to the finished ones; that is what the feeder asks on
        every tick. A final state's count may include jobs that have expired
        since (see ``retention_days``) where the adapter says so.
        """

    @abc.abstractmethod
    def heartbeat(self, encoder_id, info):
        """Record that the encoder is alive now, with a small dict of facts."""

    @abc.abstractmethod
    def encoders(self):
        """Every encoder that has heartbeated: dicts with id, last_seen, info."""

    @abc.abstractmethod
    def forget_encoder(self, encoder_id):
        """Remove an encoder's heartbeat record (it was retired)."""

    def close(self):
        """Release connections."""


# Helpers every adapter shares.

# The states a job may be in before it moves to the key; staying put is allowed.
PREDECESSORS = {
    state: sorted({state} | {s for s, nexts in TRANSITIONS.items() if state in nexts})
    for state in State
}

_CURSOR_PREFIX = b"j1:"


def encode_cursor(job_id):
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + job_id.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """The job id a cursor names; InvalidInput when it is not one of ours."""
    try:
        raw = base64.b64decode(
            cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True
        )
        if not raw.startswith(_CURSOR_PREFIX) or len(raw) == len(_CURSOR_PREFIX):
            raise ValueError
        return raw[len(_CURSOR_PREFIX):].decode()
    except (TypeError, ValueError, binascii.Error):
        raise InvalidInput("cursor", "is not a cursor this list returned") from None


def state_names(state):
    """The list of state names a ``state`` argument asks for; None for all."""
    if state is None:
        return None
    try:
        wanted = [state] if isinstance(state, str) else list(state)
        return sorted({State(s).value for s in wanted})
    except (TypeError, ValueError):
        raise InvalidInput(
            "state", f"must be one of {', '.join(s.value for s in State)}"
        ) from None


def check_limit(limit):
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be a whole number from 1 to {MAX_PAGE}")
