"""EncoderCore: the encoder's steps wired to its backends, as its actors
call them (see the package's top for which thread calls what)."""

import time

from nommer.core import ffmpeg, log
from nommer.core.encoder import confinement, keeping
from nommer.core.encoder.claim import Claim
from nommer.core.encoder.encode import Encode
from nommer.core.encoder.ending import Ending
from nommer.core.encoder.extras import Extras
from nommer.core.encoder.fetch import Fetch
from nommer.core.encoder.journal import Journal
from nommer.core.encoder.piecework import PieceWork
from nommer.core.encoder.planning import Planner
from nommer.core.encoder.runs import Runs
from nommer.core.encoder.scratch import Scratch
from nommer.core.encoder.task import Tasks
from nommer.core.encoder.upload import Upload
from nommer.core.ffmpeg.sandbox import landlock_abi
from nommer.core.security import credentials


class EncoderCore:
    def __init__(self, config, backends, encoder_id, abi=None):
        """``abi``: the kernel's Landlock ABI, when not the one found here."""
        self.config = config
        self.store = backends.store
        self.new_jobs = backends.new_jobs
        self.encoder_id = encoder_id
        self.log = log.get("nommer.encoder", encoder_id=encoder_id)
        self.landlock_abi = landlock_abi() if abi is None else abi
        confinement.check_start(config.confinement, self.landlock_abi, config.confinement_read_paths)
        self.tasks = Tasks()
        presets = ffmpeg.catalogue(config.presets)
        box = credentials.SecretBox.from_config(config)
        storage = backends.storage
        self.journal = Journal(self.store, backends.state_changes, encoder_id,
                               config.progress_interval, self.log, config.lease_seconds)
        runs = Runs(config.ffmpeg_exe(), config)
        scratch = Scratch(config, storage)
        self.claim = Claim(config, encoder_id, self.store, self.new_jobs, self.journal, self.tasks, self.log,
                           scratch)
        planner = Planner(config, presets, runs, scratch, self.new_jobs, self.journal, self.tasks, self.log)
        self.fetch_job = Fetch(config.confinement, self.landlock_abi, storage, box, presets, runs,
                               self.journal, self.log, planner)
        self.encode_job = Encode(config, presets, runs, Extras(presets, runs, self.journal, self.log),
                                 self.journal, self.log, planner)
        self.upload_job = Upload(storage, box, self.new_jobs, self.journal, self.tasks, self.log)
        self.pieces = PieceWork(config, self.landlock_abi, storage, box, presets, runs, scratch,
                                self.upload_job, self.new_jobs, self.journal, self.tasks, self.log)
        self.ending = Ending(encoder_id, self.store, self.new_jobs, self.journal, self.tasks, self.log,
                             scratch)
        # When a call to the job store or the queue last worked (monotonic);
        # the Keeper gives up after lost_contact_timeout without one.
        self.last_contact = time.monotonic()
        # False once the encoder stops taking jobs (a spot interruption notice).
        self.intake_open = True
        self.market = ""  # "spot" or "on-demand" on EC2, as the metadata service says
        self.interruption = None  # the spot Notice's dict once one came

    # -- the stages' steps: claim is an attribute; a piece of an accelerated
    # job goes its own way through the same stages (piecework.py) ----------

    def fetch(self, task):
        (self.fetch_job if task.piece is None else self.pieces.fetch)(task)

    def encode(self, task):
        (self.encode_job if task.piece is None else self.pieces.encode)(task)

    def upload(self, task):
        (self.upload_job if task.piece is None else self.pieces.upload)(task)

    def end(self, task, error):
        """Close a task whose step raised ``error``: release, abort or fail it."""
        self.ending.end(task, error)

    # -- the Keeper's ----------------------------------------------------------

    def heartbeat_jobs(self):
        keeping.heartbeat_jobs(self.tasks, self.new_jobs, self.journal, self.config.lease_seconds)

    def check_canceled(self):
        keeping.check_canceled(self.tasks, self.store, self.journal)

    def heartbeat_fields(self):
        """What the heartbeat record says of this encoder's work, besides pid and start."""
        fields = {"jobs": list(dict.fromkeys(t.id for t in self.in_flight())),
                  "slots": self.config.jobs_per_encoder,
                  **self.stats}
        if self.market:
            fields["market"] = self.market
        if self.interruption:
            fields["interrupted"] = dict(self.interruption)
        return fields

    def made_contact(self):
        self.last_contact = time.monotonic()

    # -- any thread's ----------------------------------------------------------

    def in_flight(self):
        return self.tasks.in_flight()

    @property
    def stats(self):
        return self.tasks.stats
