"""One job in flight on this encoder (Task), and the tasks in flight (Tasks).

See the package's top (``nommer/core/encoder/__init__.py``) for which thread
touches what.
"""

import dataclasses
import pathlib
import shutil
import threading

from nommer.core.errors import Canceled
from nommer.core.model import progress as progress_mod
from nommer.core.security import credentials


@dataclasses.dataclass(eq=False)
class Task:
    """One job in flight on this encoder.

    Its working fields (source_path to last_progress_write) belong to the
    stage that holds the task: one stage thread at a time. Other threads
    only stop it (``cancel``, ``run``, ``release_on_cancel``) and write its
    job through ``lock`` (the Keeper's heartbeats).
    """

    job: object  # the latest Job this encoder wrote or read; under ``lock``
    receipt: str
    workdir: pathlib.Path
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    # Held across each conditional write of ``job`` (journal.Journal.write),
    # so that a stage's write and the Keeper's heartbeat take turns.
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    release_on_cancel: bool = False  # graceful stop: hand the job back, not fail it
    source_path: pathlib.Path | None = None
    # The source read where it is (a storage.LocalFile), or None when it was
    # downloaded into the work folder.
    source_file: object = None
    probe: dict | None = None
    # What the source's container says (fetch.py's guess) of a job probed
    # only by its encode's own run; None when it was probed before.
    guess: dict | None = None
    # The job's outputs as this encoder sees them, each with its state; every
    # write of the job carries them.
    outputs: list = dataclasses.field(default_factory=list)
    targets: dict = dataclasses.field(default_factory=dict)  # output index -> ffmpeg.Target
    facts: dict = dataclasses.field(default_factory=dict)  # output index -> results.describe()
    phases: dict = dataclasses.field(default_factory=progress_mod.empty)
    notes: list = dataclasses.field(default_factory=list)
    # output index -> [(local path, "srt" or "webvtt", language)]: its caption files, downloaded
    captions: dict = dataclasses.field(default_factory=dict)
    # output index -> what was measured or chosen before its encode (extras.py)
    before: dict = dataclasses.field(default_factory=dict)
    tuning: dict = dataclasses.field(default_factory=dict)  # output index -> ffmpeg Tuning
    run: object = None  # the PlanRun or FfmpegRun in progress, to stop it on cancel
    landlock: bool = True  # whether its ffmpeg runs are confined (confinement.decide)
    last_progress_write: float = 0.0
    # A piece of an accelerated job (model/pieces.py): the piece as claimed
    # (its id, kind, attempt...); None for a whole job.
    piece: dict | None = None
    scan: object = None  # the source's segments.Scan (a stitch)
    # True once the job went out in pieces: the task left the encoder and
    # no further stage takes it.
    left: bool = False
    cleanup: list = dataclasses.field(default_factory=list)  # called when it leaves the encoder

    @property
    def id(self):
        return self.job.id

    @property
    def key(self):
        """What tells it from the other tasks in flight: its job's id, and
        its piece's."""
        return self.job.id if self.piece is None else f"{self.job.id}/{self.piece['id']}"

    def stop(self):
        """Stop this task's work from any thread."""
        self.cancel.set()
        run = self.run
        if run is not None:
            run.cancel()

    def check_canceled(self):
        """Raise Canceled once the task's work was told to stop."""
        if self.cancel.is_set():
            raise Canceled("work on the job stopped")

    def notes_said(self):
        """The task's notes in order, once each, without secrets."""
        return tuple(credentials.scrub(n) for n in dict.fromkeys(self.notes))


class Tasks:
    """The tasks in flight, by job id, and how many ended each way.

    Entered from every thread of the encoder; its lock guards only the
    dict and the counts, and is never held while waiting on anything.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._tasks = {}
        self._stats = {"finished": 0, "failed": 0, "released": 0}

    def add(self, task):
        """Take ``task`` in; False when its job is here already (a second delivery)."""
        with self._lock:
            if task.key in self._tasks:
                return False
            self._tasks[task.key] = task
            return True

    def __contains__(self, key):
        """Whether the job (or, for a piece, ``job id/piece id``) is in flight."""
        with self._lock:
            return key in self._tasks

    def in_flight(self):
        with self._lock:
            return list(self._tasks.values())

    def forget(self, task, outcome=None):
        """The task left the encoder (counted under ``outcome``, one of
        "finished", "failed", "released", when given); its work folder goes."""
        with self._lock:
            self._tasks.pop(task.key, None)
            if outcome is not None:
                self._stats[outcome] += 1
        shutil.rmtree(task.workdir, ignore_errors=True)
        for done in task.cleanup:
            done()
        task.cleanup.clear()

    def of_job(self, job_id):
        """The tasks in flight of job ``job_id`` (its pieces)."""
        with self._lock:
            return [t for t in self._tasks.values() if t.id == job_id]

    @property
    def stats(self):
        with self._lock:
            return dict(self._stats)
