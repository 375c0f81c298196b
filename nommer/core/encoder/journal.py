"""How the encoder writes a job it holds, and tells the feeder.

Every write is conditional on the job's version and made under the task's
lock (see the package's top); a job canceled, re-queued or taken by
another encoder meanwhile raises Canceled in the thread that writes.

A piece of an accelerated job (``Task.piece``) is held, not its job: the
write goes on while the job runs, is of the same attempt, and the piece is
RUNNING on this encoder at the attempt it claimed; its progress and
heartbeat are the piece's, and the job's progress the pieces' weighted sum.
"""

import dataclasses
import json
import time

from nommer.core.errors import Canceled, StaleWrite
from nommer.core.model import pieces as pieces_mod
from nommer.core.model import progress as progress_mod
from nommer.core.model.jobs import RUNNING_STATES, State, utcnow
from nommer.core.model.messages import state_change
from nommer.core.retrying import is_our_write

WRITE_RETRIES = 20


class Journal:
    def __init__(self, store, state_changes, encoder_id, progress_interval, log, lease_seconds=None):
        self.store = store
        self.state_changes = state_changes
        self.encoder_id = encoder_id
        self.progress_interval = progress_interval
        # A piece writes the whole job record, which holds every piece of the
        # job, and many pieces run at once: each writes its heartbeat and its
        # progress together, at most every quarter lease (a piece is lost
        # after a whole lease of silence), not each at its own pace.
        self.piece_interval = max(progress_interval, (lease_seconds or 0) / 4)
        self.log = log
        # The state-change queue when it is in the store's own SQLite file:
        # then a change and its report are written in one transaction.
        here = getattr(store, "queues_here", None)
        here = here(state_changes) if here is not None else None
        self.queue_here = here[0] if here else None

    def report(self, job, event="job.state_changed"):
        """Tell the feeder, through the state-change queue, that ``job`` moved
        (or, with event ``job.progress``, got further)."""
        body = json.dumps(state_change(job, event))
        try:
            self.state_changes.send(body)
        except Exception:  # the store holds the truth; the feeder re-reads it
            self.log.exception("state change not queued", job_id=job.id)

    def update(self, job, event="job.state_changed"):
        """``store.update(job)`` and :meth:`report` the stored job: both in
        one transaction when the state-change queue is in the store's file
        (nothing is reported of a write that lost), else one after the other."""
        queue = self.queue_here
        if queue is None:
            stored = self.store.update(job)
            self.report(stored, event)
            return stored
        stored = self.store.update_queued(job, lambda s: [(queue, json.dumps(state_change(s, event)), 0)])
        queue.ring()
        return stored

    def write(self, task, change, event=None):
        """Apply ``change(job) -> new job`` to the task's job, conditionally,
        and with ``event`` report it (see :meth:`update`).

        A lost race is retried on the fresh record while the job is still this
        encoder's; when it was canceled, re-queued or taken by another encoder
        meanwhile, raises Canceled.
        """
        with task.lock:
            job = task.job
            for _ in range(WRITE_RETRIES):
                if not self.holds(task, job):
                    task.cancel.set()
                    raise Canceled(f"job {job.id} is now {job.state}; work stopped")
                attempted = change(job)
                try:
                    task.job = self.update(attempted, event) if event else self.store.update(attempted)
                    return task.job
                except StaleWrite:
                    job = task.job = self.store.get(job.id)
                    if is_our_write(job, dataclasses.replace(attempted, version=attempted.version + 1)):
                        # A retry below us lost to our own first try (which,
                        # in one transaction, reported it too).
                        if event and self.queue_here is None:
                            self.report(job, event)
                        return job
            raise Canceled(f"job {job.id} kept changing under this encoder")

    def holds(self, task, job):
        """Whether ``job`` (as read) is still this encoder's to work on for ``task``."""
        if job.state not in RUNNING_STATES:
            return False
        if task.piece is None:
            return job.encoder_id == self.encoder_id
        return (job.encoder_id is None and job.attempt == task.job.attempt
                and pieces_mod.holds(job.pieces, task.piece["id"], self.encoder_id, task.piece["attempt"]))

    def touch(self, task):
        """Mark the task's job (and piece) alive."""
        if task.piece is None:
            return self.write(task, lambda j: j.with_changes(heartbeat_at=utcnow()))
        if time.monotonic() - task.last_progress_write < self.piece_interval:
            task.check_canceled()
            return task.job  # its last write says it is alive
        piece_id = task.piece["id"]

        def change(job):
            now = utcnow()
            return job.with_changes(heartbeat_at=now, pieces=pieces_mod.beat(job.pieces, piece_id, now))

        job = self.write(task, change)
        # Timed from a write that went through: a failed one leaves the next
        # heartbeat free to try again.
        task.last_progress_write = time.monotonic()
        return job

    def set_state(self, task, state, **fields):
        """Move the job to ``state``, with the task's outputs and progress, and report it."""
        fields.setdefault("outputs", [dict(o) for o in task.outputs] or task.job.outputs)
        if state != State.FINISHED:
            fields.setdefault("phases", dict(task.phases))
            fields.setdefault("progress", progress_mod.overall(task.phases))

        piece_id = task.piece["id"] if task.piece is not None else None

        def change(job):
            more = dict(fields)
            if piece_id is not None and "pieces" not in more:
                made = job.pieces
                if state == State.FINISHED:
                    made, _ = pieces_mod.finished(made, piece_id)
                else:  # it says the piece is alive, as a heartbeat does
                    made = pieces_mod.beat(made, piece_id, utcnow())
                more["pieces"] = made
                if state != State.FINISHED:
                    more["progress"] = pieces_mod.overall(made)
            if job.state == state:
                # Re-read after a lost race: only this encoder moves its job
                # forward, so it is there already by this very change.
                return job.with_changes(heartbeat_at=utcnow(), **more)
            return job.transition(state, heartbeat_at=utcnow(), **more)

        job = self.write(task, change, event="job.state_changed")
        # It carried the progress too: the next progress write waits its turn.
        task.last_progress_write = time.monotonic()
        return job

    def mark(self, task, indices, state, write=True, **fields):
        """Set the state of outputs ``indices`` (and write it, unless told not
        to, or unless they were so already: the write that moved the job
        may have carried it)."""
        changed = False
        for index in indices:
            marked = {**task.outputs[index], "state": state, **fields}
            changed = changed or marked != task.outputs[index]
            task.outputs[index] = marked
        if write and changed:
            outputs = [dict(o) for o in task.outputs]
            self.write(task, lambda j: j.with_changes(outputs=outputs, heartbeat_at=utcnow()))

    def progress(self, task, phase, percent):
        """Record ``percent`` of ``phase``; write it at most every
        ``progress_interval`` seconds (and tell the feeder, for jobs that
        asked for progress events). Raises Canceled once the task was stopped."""
        task.check_canceled()
        percent = max(0, min(100, int(percent)))
        if percent <= task.phases.get(phase, 0):
            return  # never backwards
        task.phases[phase] = percent
        now = time.monotonic()
        interval = self.progress_interval if task.piece is None else self.piece_interval
        if now - task.last_progress_write < interval:
            return  # kept; the next write carries it
        previous, task.last_progress_write = task.last_progress_write, now
        phases = dict(task.phases)
        if task.piece is not None:
            try:
                job = self.write(task, self._piece_progress(task, phases))
            except Exception:
                # A piece's write is its heartbeat too: one that failed must
                # not keep the next heartbeat from trying.
                task.last_progress_write = previous
                raise
        else:
            # The probe of a job probed by its encode's run (encode.py) goes
            # with the first write after it.
            probe = {"probe": task.probe} if task.guess is not None and task.probe is not None \
                and task.job.probe != task.probe else {}
            job = self.write(task, lambda j: j.with_changes(
                progress=progress_mod.overall(phases), phases=phases, heartbeat_at=utcnow(), **probe))
        if job.progress_events and job.notify_url:
            self.report(job, event="job.progress")

    @staticmethod
    def _piece_progress(task, phases):
        """The change that records a piece's progress (its encode; a
        stitch's phases together) and the job's, its pieces weighed."""
        piece_id = task.piece["id"]
        done = (progress_mod.overall(phases) if task.piece["kind"] == pieces_mod.STITCH
                else phases.get("encode", 0))

        def change(job):
            now = utcnow()
            made = pieces_mod.beat(job.pieces, piece_id, now, progress=done)
            return job.with_changes(pieces=made, progress=pieces_mod.overall(made), heartbeat_at=now)

        return change
