"""The JobStore port: job records and encoder heartbeats.

Adapters: ``nommer.core.adapters.sqlite_store`` (embedded default) and, for AWS,
a SimpleDB one. Both pass ``tests/core/test_store_contract.py``.
"""

import abc


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

    @abc.abstractmethod
    def counts(self):
        """``{state name: number of jobs}`` for every state that has jobs."""

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
