"""The app under test serves a real JobService over a real SQLite store and
real storage adapters, called through Flask's test client (no port)."""

import json

import pytest

from nommer.core.adapters.local_storage import FileStorage, HttpStorage
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.feeder.api_types import (
    ActorHealth, EncoderRecord, FleetMember, FleetReport, HealthMetrics, HealthReport, ScalerDecision,
    ScalerReport,
)
from nommer.core.security.credentials import SecretBox
from nommer.core.security.netguard import AddressPolicy
from nommer.core.feeder.service import JobService
from nommer.core.ports.storage import StorageRouter
from nommer.http.app import create_app

MAX_BODY = 64 * 1024


# The Supervisor's children, by the names the feeder starts them under.
CHILDREN = ("job_tracker", "notifier", "dispatcher", "scaler", "reaper", "http_front")


class ServiceApi:
    """The ``api`` the app serves: job calls go straight to a JobService.

    ``fleet()`` and ``health()`` answer in the feeder's exact shapes
    (nommer.core.feeder.api_types, which the ActorGateway's answers are checked
    against in tests/actors/test_gateway_shapes.py) with made-up contents:
    one local encoder, and while ``healthy`` is false the JobTracker
    restarting after a crash. The feeder's real answers are tested end to
    end in tests/e2e and tests/actors.
    """

    def __init__(self, service):
        self.service = service
        self.healthy = True

    def submit(self, source, outputs, notify_url, notify_format="json", progress_events=False,
               priority=0):
        return self.service.submit(source, outputs, notify_url, notify_format, progress_events,
                                   priority)

    def presets(self):
        return self.service.presets.describe()

    def get(self, job_id):
        return self.service.get(job_id)

    def list(self, state, limit, cursor):
        return self.service.list(state, limit, cursor)

    def cancel(self, job_id):
        return self.service.cancel(job_id)

    def retry(self, job_id):
        return self.service.retry(job_id)

    def fleet(self) -> FleetReport:
        seen = "2024-01-01T00:00:00.000000Z"
        return FleetReport(
            members=[FleetMember(id="enc-1", state="running", started_at=seen, detail="pid 4242",
                                 market="", busy_until=None)],
            encoders=[EncoderRecord(id="enc-1", last_seen=seen, busy_until=None,
                                    info={"pid": 4242, "started_at": seen, "jobs": [], "slots": 1})],
            scaler=ScalerReport(decision=ScalerDecision(at=1704067200.0, launch=0, retire=[], desired=1,
                                                        reason="enough encoders")),
        )

    def retry_fleet(self):
        self.retried = getattr(self, "retried", 0) + 1
        return {"retried": True}

    def health(self) -> tuple[bool, HealthReport]:
        actors = {name: ActorHealth(state="running", restarts=0, last_error=None) for name in CHILDREN}
        if not self.healthy:
            actors["job_tracker"] = ActorHealth(state="restarting", restarts=1,
                                                last_error="JobTracker crashed: disk I/O error")
        return self.healthy, HealthReport(
            status="ok" if self.healthy else "degraded", actors=actors,
            metrics=HealthMetrics(jobs=self.service.counts()),
        )


@pytest.fixture
def media(tmp_path):
    """The one folder file:// URIs may use, holding a source file."""
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "in.mov").write_bytes(b"not really a movie")
    return folder


@pytest.fixture
def store(tmp_path):
    store = SqliteJobStore(tmp_path / "data" / "nommer.db")
    yield store
    store.close()


SECRET_KEY = "k5N8Vw0K4Zl2yYq1Xc3n6R7t8U9v0W1x2Y3z4A5b6C8="  # a Fernet key for the tests


@pytest.fixture
def box():
    return SecretBox(SECRET_KEY)


@pytest.fixture
def api(store, media, box):
    # Submissions check addresses with the default policy (public only) and
    # store URIs with credentials sealed with the tests' key.
    storage = StorageRouter([FileStorage([media]), HttpStorage()])
    return ServiceApi(JobService(store, storage, AddressPolicy(), box))


@pytest.fixture
def app(api):
    return create_app(api, max_body_bytes=MAX_BODY)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def source(media):
    return (media / "in.mov").as_uri()


@pytest.fixture
def dest(media):
    return (media / "out" / "small.mp4").as_uri()


@pytest.fixture
def stored_jobs(store):
    """How many jobs the store holds now."""
    return lambda: sum(store.counts().values())


@pytest.fixture
def post(client):
    """POST ``body`` (bytes as they are, anything else as JSON) to ``path``."""

    def post(path, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if content_type else {}
        return client.post(path, data=data, headers=headers)

    return post


@pytest.fixture
def submit(post, source, dest):
    """Submit a good job through the current API; returns its resource."""

    def submit(preset="mp4-h264-480p", **changes):
        body = {"source": source, "outputs": [{"destination": dest, "preset": preset}], **changes}
        answer = post("/jobs", body)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    return submit
