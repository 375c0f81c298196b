"""The encoder's steps over real parts in a temporary folder: the SQLite
job store and queues, local files for storage, ffmpeg for probing and
encoding; no encoder process, no actors."""

import dataclasses
import datetime

import pytest

from nommer.core import config as config_mod
from nommer.core import ffmpeg, log
from nommer.core.adapters.local_storage import FileStorage
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.encoder.claim import Claim
from nommer.core.encoder.encode import Encode
from nommer.core.encoder.ending import Ending
from nommer.core.encoder.extras import Extras
from nommer.core.encoder.fetch import Fetch
from nommer.core.encoder.journal import Journal
from nommer.core.encoder.runs import Runs
from nommer.core.encoder.task import Tasks
from nommer.core.encoder.upload import Upload
from nommer.core.ffmpeg.sandbox import landlock_abi
from nommer.core.model.jobs import Job, State
from nommer.core.model.messages import message_body
from nommer.core.ports.storage import StorageRouter
from nommer.core.security import credentials

ENCODER = "enc-here"
LEASE = 30.0


def ago(seconds):
    """The time ``seconds`` ago, as the job record writes times."""
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclasses.dataclass
class Kit:
    """One encoder's collaborators, and ways to build each step from them."""

    config: object
    media: object
    store: object
    new_jobs: object
    state_changes: object
    storage: object
    journal: object
    tasks: object
    runs: object
    presets: object
    box: object
    log: object

    def claim(self, encoder_id=ENCODER):
        return Claim(self.config, encoder_id, self.store, self.new_jobs, self.journal, self.tasks, self.log)

    def fetch(self):
        return Fetch(self.config.confinement, landlock_abi(), self.storage, self.box, self.presets,
                     self.runs, self.journal, self.log)

    def encode(self):
        return Encode(self.config, self.presets, self.runs,
                      Extras(self.presets, self.runs, self.journal, self.log), self.journal, self.log)

    def upload(self):
        return Upload(self.storage, self.box, self.new_jobs, self.journal, self.tasks, self.log)

    def ending(self):
        return Ending(ENCODER, self.store, self.new_jobs, self.journal, self.tasks, self.log)

    def submit(self, source="source.mp4", out="out.mp4", preset="mp4-h264-360p", destination=None):
        """A PENDING job of ``source`` in the media folder (to ``out`` there,
        or ``destination``), and its message."""
        destination = destination or f"file://{self.media / out}"
        job = self.store.create(Job.new(f"file://{self.media / source}", [
            {"destination": destination, "preset": preset}]))
        self.new_jobs.send(message_body(job.id))
        return job

    def held_by(self, job, encoder_id, heartbeat_at, state=State.ENCODING):
        """``job`` as if ``encoder_id`` claimed it and last wrote it at ``heartbeat_at``."""
        job = self.store.update(job.transition(State.DOWNLOADING, encoder_id=encoder_id, attempt=1))
        if state != State.DOWNLOADING:
            job = self.store.update(job.transition(state))
        return self.store.update(dataclasses.replace(job, heartbeat_at=heartbeat_at))

    def message(self):
        return self.new_jobs.receive(visibility_timeout=LEASE)[0]

    def changes(self):
        """The state changes queued for the feeder, taken off the queue."""
        import json

        said = []
        while True:
            messages = self.state_changes.receive(max_messages=10)
            if not messages:
                return said
            for m in messages:
                said.append(json.loads(m.body))
                self.state_changes.delete(m.receipt)

    def started(self, **submitted):
        """A job submitted and claimed by this encoder: its Task."""
        self.submit(**submitted)
        return self.claim()(self.message())

    def fetched(self, **submitted):
        task = self.started(**submitted)
        self.fetch()(task)
        return task


@pytest.fixture
def kit(tmp_path, sample_clip):
    media = tmp_path / "media"
    media.mkdir()
    (media / "source.mp4").write_bytes(sample_clip.read_bytes())
    config = config_mod.load(environ={
        "NOMMER_DATA_DIR": str(tmp_path / "data"), "NOMMER_FILE_ROOTS": str(media),
        "NOMMER_LOG_FORMAT": "json", "NOMMER_LEASE_SECONDS": str(LEASE), "NOMMER_MAX_ATTEMPTS": "3",
        "NOMMER_PROGRESS_INTERVAL": "0"})
    config.data_dir.mkdir(parents=True)
    store = SqliteJobStore(config.db_path)
    new_jobs = SqliteWorkQueue(config.db_path, "new-jobs", visibility_timeout=LEASE)
    state_changes = SqliteWorkQueue(config.db_path, "state-changes")
    logger = log.get("nommer.encoder", encoder_id=ENCODER)
    kit = Kit(
        config=config, media=media, store=store, new_jobs=new_jobs, state_changes=state_changes,
        storage=StorageRouter([FileStorage(config.allowed_roots, excluded=config.private_paths)]),
        journal=Journal(store, state_changes, ENCODER, config.progress_interval, logger, config.lease_seconds),
        tasks=Tasks(), runs=Runs(config.ffmpeg_exe(), config), presets=ffmpeg.catalogue(config.presets),
        box=credentials.SecretBox.from_config(config), log=logger,
    )
    yield kit
    for part in (new_jobs, state_changes, store):
        part.close()

