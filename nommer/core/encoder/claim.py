"""Claiming the job of a new-job message: PENDING → DOWNLOADING with a
conditional write, taking over the job of a silent encoder; or a piece of
an accelerated job: PENDING (or RUNNING on a silent encoder) → RUNNING
here. Runs in the Puller's thread."""

from nommer.core.encoder.task import Task
from nommer.core.errors import NotFound, StaleWrite
from nommer.core.encoder.planning import requeue
from nommer.core.model import outputs as outputs_mod
from nommer.core.model import pieces as pieces_mod
from nommer.core.model import progress as progress_mod
from nommer.core.model.jobs import RUNNING_STATES, State, utcnow
from nommer.core.model.liveness import accelerated, gave_up, given_back, owner_lost
from nommer.core.model.messages import job_id_of, piece_body, piece_of
from nommer.core.ports.storage import redact

CLAIM_TRIES = 20


class Claim:
    def __init__(self, config, encoder_id, store, new_jobs, journal, tasks, log, scratch=None):
        self.scratch = scratch  # scratch.Scratch: an ended accelerated job's files go
        self.config = config
        self.encoder_id = encoder_id
        self.store = store
        self.new_jobs = new_jobs
        self.journal = journal
        self.tasks = tasks
        self.log = log

    def __call__(self, message):
        """Take the job of a queue message with a conditional write.

        Returns a Task, or None when there is nothing to do: the message was
        deleted (job gone or finished) or left for its current owner.
        """
        job_id = job_id_of(message.body)
        jlog = self.log.bind(job_id=job_id)
        if job_id is None:
            jlog.warning("unreadable queue message dropped", body=message.body[:200])
            self.new_jobs.delete(message.receipt)
            return None
        piece = piece_of(message.body)
        if piece is not None:
            return self._claim_piece(message, job_id, *piece)
        for _ in range(CLAIM_TRIES):
            try:
                job = self.store.get(job_id)
            except NotFound:
                jlog.warning("queued job does not exist; message dropped")
                self.new_jobs.delete(message.receipt)
                return None
            if job.is_final:
                # Its encoder may have died between writing the final state
                # and reporting it: report it (again) before the message goes.
                self.journal.report(job)
                self._ended(job)
                self.new_jobs.delete(message.receipt)
                return None
            if job_id in self.tasks:
                return None  # a second delivery of a job already here
            if accelerated(job):
                # Its planner went before letting this message go: its pieces
                # may have no messages yet.
                requeue(job, self.new_jobs)
                self.new_jobs.delete(message.receipt)
                jlog.info("pieces of an accelerated job queued again")
                return None
            if job.state in RUNNING_STATES:
                if not owner_lost(job, self.config.lease_seconds):
                    return None  # its encoder is alive; the message comes back later
                # Back to PENDING, claimed by the next turn of this loop (or
                # ended past max_attempts, then reported below).
                self._write(given_back(job, self.config.max_attempts,
                                       f"encoder {job.encoder_id} stopped answering"))
                continue
            if job.attempt >= self.config.max_attempts:
                if self._give_up(job, message):
                    return None
                continue
            task = self._start(job, message)
            if task is not None:
                jlog.info("job claimed", attempt=task.job.attempt, source=redact(task.job.source))
                return task
        return None

    def _write(self, job):
        """Write ``job``; whoever got there first wins (the loop re-reads)."""
        try:
            self.store.update(job)
        except StaleWrite:
            pass

    def _give_up(self, job, message):
        """ERROR (GAVE_UP) past max_attempts; False when another writer got there first."""
        try:
            self.journal.update(gave_up(job, f"gave up after {job.attempt} attempts: {job.details}"))
        except StaleWrite:
            return False
        self.new_jobs.delete(message.receipt)
        return True

    def _start(self, job, message):
        """A new attempt, from nothing: outputs back to PENDING. None when
        another writer got there first."""
        fresh = [{k: v for k, v in o.items() if k not in ("result", "error", "error_code", "reason")}
                 | {"state": outputs_mod.PENDING} for o in job.outputs]
        try:
            # reported with the write (see Journal.update)
            job = self.journal.update(job.transition(
                State.DOWNLOADING, encoder_id=self.encoder_id,
                attempt=job.attempt + 1, progress=0, phases=progress_mod.empty(),
                outputs=fresh, details="", error_code=None, heartbeat_at=utcnow()))
        except StaleWrite:
            return None
        workdir = self.config.work_dir / f"{job.id}-{job.attempt}-{self.encoder_id}"
        task = Task(job=job, receipt=message.receipt, workdir=workdir)
        self.tasks.add(task)
        return task

    def _ended(self, job):
        if job.pieces and self.scratch is not None:
            self.scratch.remove(job.id)

    def _claim_piece(self, message, job_id, attempt, piece_id):
        """Take piece ``piece_id`` of attempt ``attempt`` of job ``job_id``
        with a conditional write; a Task, or None (the message deleted, or
        left while the piece runs elsewhere)."""
        jlog = self.log.bind(job_id=job_id, piece=piece_id)
        for _ in range(CLAIM_TRIES):
            try:
                job = self.store.get(job_id)
            except NotFound:
                self.new_jobs.delete(message.receipt)
                return None
            if job.is_final:
                self._ended(job)
                self.new_jobs.delete(message.receipt)
                return None
            piece = pieces_mod.find(job.pieces, piece_id)
            if (job.attempt != attempt or piece is None or job.encoder_id is not None
                    or job.state not in RUNNING_STATES):
                jlog.info("message of another attempt of the job dropped", attempt=attempt)
                self.new_jobs.delete(message.receipt)
                return None
            if f"{job_id}/{piece_id}" in self.tasks:
                return None  # a second delivery of a piece already here
            decision = pieces_mod.claim_decision(piece, self.config.lease_seconds, self.config.max_attempts)
            if decision == "wait":
                return None  # its encoder is alive; the message comes back later
            if decision == "done":
                stitch = pieces_mod.find(job.pieces, pieces_mod.STITCH_ID)
                if stitch is not None and stitch["state"] == pieces_mod.PENDING:
                    # Its encoder may have gone between the write that made
                    # the stitch due and the stitch's message.
                    self.new_jobs.send(piece_body(job.id, job.attempt, stitch["id"]), priority=job.priority)
                self.new_jobs.delete(message.receipt)
                return None
            if decision == "give_up":
                try:
                    ended = self.store.update(gave_up(job, f"gave up after {piece['attempt']} attempts "
                                                           f"at piece {piece_id}: its encoders were lost"))
                except StaleWrite:
                    continue
                self.journal.report(ended)
                self._ended(ended)
                self.new_jobs.delete(message.receipt)
                return None
            now = utcnow()
            try:
                job = self.store.update(job.with_changes(
                    pieces=pieces_mod.claimed(job.pieces, piece_id, self.encoder_id, now), heartbeat_at=now))
            except StaleWrite:
                continue
            piece = pieces_mod.find(job.pieces, piece_id)
            # Named <something>-<attempt>-<encoder id>, like a job's: what the
            # local fleet reads to remove the folders of dead encoders.
            tag = f"{job.id}_{piece_id.replace('-', '_')}_{piece['attempt']}"
            workdir = self.config.work_dir / f"{tag}-{job.attempt}-{self.encoder_id}"
            task = Task(job=job, receipt=message.receipt, workdir=workdir, piece=dict(piece))
            if not self.tasks.add(task):
                return None
            jlog.info("piece claimed", attempt=piece["attempt"])
            return task
        return None
