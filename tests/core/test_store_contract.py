"""The JobStore contract: every adapter must pass these.

Adapter-specific setup lives only in the ``store`` fixture; add an adapter by
adding a param there.
"""

import collections
import dataclasses
import json

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from nommer.core.model import results
from nommer.core.adapters.local_storage import FileStorage
from nommer.core.errors import AlreadyExists, InvalidInput, InvalidTransition, NotFound, StaleWrite
from nommer.core.model.jobs import Job, State, age_seconds, can_transition, utcnow
from nommer.core.feeder.service import MAX_OUTPUTS
from nommer.core.ports.storage import MAX_URI_LENGTH, StorageRouter

from .long_outputs import hls_ladder_upload


@pytest.fixture(scope="session")
def simpledb_url():
    """nommer's SimpleDB-compatible server, over the wire on loopback."""
    from nommer.testing.simpledb import start_server

    server, url = start_server(port=0)
    yield url
    server.stop()


@pytest.fixture(params=["sqlite", "dynamodb", "simpledb"])
def store(request, tmp_path):
    if request.param == "sqlite":
        from nommer.core.adapters.sqlite_store import SqliteJobStore

        store = SqliteJobStore(tmp_path / "nommer.sqlite3")
    elif request.param == "dynamodb":
        import uuid

        from nommer.core.adapters.dynamodb_store import DynamoDbJobStore

        request.getfixturevalue("aws_endpoint")  # moto's server, over the wire
        store = DynamoDbJobStore(f"t{uuid.uuid4().hex[:12]}", region="us-east-1")
    else:
        import uuid

        import boto3
        import botocore.config

        from nommer.core.adapters.aws import RETRIES
        from nommer.core.adapters.simpledb_store import SimpleDbJobStore

        client = boto3.client(
            "sdb", endpoint_url=request.getfixturevalue("simpledb_url"), region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test", config=botocore.config.Config(retries=RETRIES))
        store = SimpleDbJobStore(f"t{uuid.uuid4().hex[:12]}", client=client)
    yield store
    store.close()


def new_job(n=0, **fields):
    outputs = [{"destination": f"file:///out/{n}.mp4", "preset": "h264"}]
    job = Job.new(f"file:///in/{n}.mov", outputs)
    return dataclasses.replace(job, **fields)


def make_jobs(store, count):
    """``count`` stored jobs with distinct ids."""
    return [store.create(new_job(n)) for n in range(count)]


# --- create / get -----------------------------------------------------------


def test_create_then_get_keeps_every_field(store):
    job = new_job(
        notify_url="https://app.example/hook",
        details="ffmpeg said: moov atom not found",
        progress=42,
        attempt=2,
        encoder_id="enc-7",
        started_at=utcnow(),
        heartbeat_at=utcnow(),
        probe={"duration": 12.5, "streams": [{"codec": "h264", "width": 1920}]},
        outputs=(
            {"destination": "s3://b/o.mp4", "preset": "h264", "result": {"size": 10}},
            {"destination": "file:///o.webm", "options": ["-c:v", "libvpx-vp9"]},
        ),
    )

    created = store.create(job)

    assert created == dataclasses.replace(job, version=1)
    assert store.get(job.id) == created


@pytest.mark.parametrize("ladder", [False, True], ids=["three-files", "ladder-of-four"])
def test_an_accelerated_job_of_the_most_pieces_round_trips(store, ladder):
    from nommer.core.ffmpeg.segments import Scan, plan as plan_segments
    from nommer.core.model import pieces

    # A ten-hour source, three outputs (or a ladder of four renditions, each
    # cut on its own), cut as finely as the cap allows.
    seconds = 36_000.0
    frames = tuple(float(i) for i in range(int(seconds)))
    scan = Scan(frames=frames, keyframes=tuple(range(0, len(frames), 2)), end=seconds, audio=(0.0, seconds))
    if ladder:
        length = pieces.segment_seconds_for(seconds, 1.0, outputs=[4], grid=6)
        cut = plan_segments(scan, length, hls=True)
        made = pieces.plan([(0, cut.segments, True, (1.0, 0.6, 0.4, 0.3))], cost=1.5)
        outputs = ({"destination": "s3://bucket/some/long/prefix/ladder/", "preset": "hls-h264-ladder"},)
    else:
        length = pieces.segment_seconds_for(seconds, 1.0, outputs=3)
        cut = plan_segments(scan, length)
        made = pieces.plan([(i, cut.segments, True) for i in range(3)], cost=1.5)
        outputs = tuple({"destination": f"s3://bucket/some/long/prefix/output-{i}.mp4", "preset": "mp4-h264-720p"}
                        for i in range(3))
    assert len(made) > pieces.MAX_PIECES - 10
    made = pieces.claimed(made, made[0]["id"], "enc-1", utcnow())
    job = new_job(acceleration="ENABLED", outputs=outputs)
    created = store.create(job)
    claimed = store.update(created.transition(State.DOWNLOADING, encoder_id="enc-1"))
    moved = store.update(claimed.transition(State.ENCODING, pieces=made, encoder_id=None))

    assert store.get(job.id) == moved
    assert store.get(job.id).pieces[0]["state"] == pieces.RUNNING


def test_create_refuses_a_job_that_is_not_new(store):
    with pytest.raises(ValueError):
        store.create(dataclasses.replace(new_job(), version=3))


def test_create_twice_is_already_exists(store):
    job = new_job()
    store.create(job)
    with pytest.raises(AlreadyExists):
        store.create(job)
    assert store.get(job.id).version == 1


def test_get_missing_is_not_found(store):
    with pytest.raises(NotFound):
        store.get("0000000000000000nope")


def test_versions_says_each_stored_jobs_version(store):
    a, b = store.create(new_job()), store.create(new_job())
    b = store.update(b.transition(State.CANCELED))

    assert store.versions([a.id, "0000000000000000nope", b.id, a.id]) == {a.id: 1, b.id: 2}
    assert store.versions([]) == {}
    assert store.get(b.id).version == 2


def test_versions_of_more_jobs_than_one_batch_holds(store):
    jobs = make_jobs(store, 130)  # DynamoDB reads 100 keys a call
    moved = store.update(jobs[120].transition(State.DOWNLOADING, encoder_id="enc-1"))

    found = store.versions([j.id for j in jobs] + ["0000000000000000nope"])

    assert found == {**{j.id: 1 for j in jobs}, moved.id: 2}


@pytest.mark.parametrize("store, reads", [("dynamodb", {"BatchGetItem": 1}), ("simpledb", {"Select": 3})],
                         indirect=["store"])
def test_versions_on_aws_read_the_version_alone_many_jobs_a_call(store, reads):
    jobs = make_jobs(store, 45)  # SimpleDB: 20 item names a Select
    calls = collections.Counter()
    store.client.meta.events.register("before-call", lambda model, **_: calls.update([model.name]))

    assert store.versions([j.id for j in jobs]) == {j.id: 1 for j in jobs}
    assert calls == reads  # never a GetItem or GetAttributes of a whole record


# --- conditional update -------------------------------------------------------


def test_update_at_current_version_bumps_it(store):
    job = store.create(new_job())

    moved = store.update(job.transition(State.DOWNLOADING, encoder_id="enc-1"))
    again = store.update(moved.with_changes(progress=10))

    assert (moved.version, again.version) == (2, 3)
    stored = store.get(job.id)
    assert stored == again
    assert (stored.state, stored.encoder_id, stored.progress) == (State.DOWNLOADING, "enc-1", 10)


def test_stale_write_loses_and_changes_nothing(store):
    job = store.create(new_job())
    winner = store.update(job.transition(State.DOWNLOADING))

    with pytest.raises(StaleWrite):
        store.update(job.transition(State.CANCELED))

    assert store.get(job.id) == winner


def test_update_of_missing_job_is_not_found(store):
    with pytest.raises(NotFound):
        store.update(dataclasses.replace(new_job(), version=1))


def test_update_refuses_a_transition_forged_past_the_state_machine(store):
    job = store.create(new_job())
    forged = dataclasses.replace(job, state=State.FINISHED)

    with pytest.raises(InvalidTransition):
        store.update(forged)

    assert store.get(job.id) == job


# --- list -----------------------------------------------------------------------


def test_list_is_newest_first(store):
    jobs = make_jobs(store, 5)

    listed, cursor = store.list()

    assert [j.id for j in listed] == sorted((j.id for j in jobs), reverse=True)
    assert cursor is None


def test_list_by_state_and_by_set_of_states(store):
    jobs = make_jobs(store, 6)
    for job in jobs[:2]:
        store.update(job.transition(State.DOWNLOADING))
    store.update(jobs[2].transition(State.CANCELED))

    def ids(state):
        return {j.id for j in store.list(state=state)[0]}

    assert ids(State.DOWNLOADING) == {jobs[0].id, jobs[1].id}
    assert ids("PENDING") == {j.id for j in jobs[3:]}
    assert ids({State.DOWNLOADING, "CANCELED"}) == {j.id for j in jobs[:3]}
    assert ids({State.FINISHED}) == set()


def test_pages_cover_every_job_exactly_once(store):
    jobs = make_jobs(store, 23)
    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = store.list(limit=5, cursor=cursor)
        assert len(page) <= 5
        seen += [j.id for j in page]
        pages += 1
        if cursor is None:
            break

    assert seen == sorted((j.id for j in jobs), reverse=True)
    assert pages == 5


def test_pages_of_one_state(store):
    jobs = make_jobs(store, 9)
    for job in jobs[::2]:
        store.update(job.transition(State.ERROR))
    first, cursor = store.list(state=State.ERROR, limit=3)
    second, last = store.list(state=State.ERROR, limit=3, cursor=cursor)

    assert [j.id for j in first + second] == sorted((j.id for j in jobs[::2]), reverse=True)
    assert last is None


@pytest.mark.parametrize("cursor", ["not a cursor", "", "%%%", "AAAA"])
def test_bad_cursor_is_invalid_input_naming_cursor(store, cursor):
    make_jobs(store, 2)
    with pytest.raises(InvalidInput) as caught:
        store.list(cursor=cursor)
    assert caught.value.field == "cursor"


@pytest.mark.parametrize("limit", [0, 1001, -1, "10"])
def test_bad_limit_is_invalid_input_naming_limit(store, limit):
    with pytest.raises(InvalidInput) as caught:
        store.list(limit=limit)
    assert caught.value.field == "limit"


def test_bad_state_is_invalid_input_naming_state(store):
    with pytest.raises(InvalidInput) as caught:
        store.list(state="SLEEPING")
    assert caught.value.field == "state"


# --- queries --------------------------------------------------------------------


def test_unfinished_is_oldest_first_and_skips_final_states(store):
    jobs = make_jobs(store, 5)
    store.update(jobs[1].transition(State.ABANDONED))
    store.update(jobs[3].transition(State.DOWNLOADING))

    unfinished = store.unfinished()

    expected = sorted(j.id for j in (jobs[0], jobs[2], jobs[3], jobs[4]))
    assert [j.id for j in unfinished] == expected
    assert {j.id: j.state for j in unfinished}[jobs[3].id] == State.DOWNLOADING


def test_idle_gives_the_unfinished_jobs_of_the_states_unchanged_since_before(store):
    jobs = make_jobs(store, 4)
    running = store.update(jobs[1].transition(State.DOWNLOADING))
    store.update(jobs[2].transition(State.CANCELED))
    after = utcnow()
    later = store.update(jobs[3].transition(State.DOWNLOADING))
    assert later.updated_at > after

    assert [j.id for j in store.idle({State.PENDING}, before=after)] == [jobs[0].id]
    assert sorted(j.id for j in store.idle({State.PENDING, State.DOWNLOADING}, before=after)) == sorted(
        [jobs[0].id, running.id])
    assert [j.id for j in store.idle({State.CANCELED}, before=after)] == []  # final: never idle
    assert store.idle({State.PENDING}, before=jobs[0].updated_at) == []  # not strictly before


def test_counts_by_state(store):
    assert store.counts() == {}
    jobs = make_jobs(store, 4)
    store.update(jobs[0].transition(State.CANCELED))

    assert store.counts() == {"PENDING": 3, "CANCELED": 1}


def test_counts_of_some_states_only(store):
    jobs = make_jobs(store, 5)
    store.update(jobs[0].transition(State.CANCELED))
    store.update(jobs[1].transition(State.DOWNLOADING))
    unfinished = {State.PENDING, State.DOWNLOADING, State.ENCODING, State.UPLOADING}

    assert store.counts(unfinished) == {"PENDING": 3, "DOWNLOADING": 1}
    assert store.counts(State.CANCELED) == {"CANCELED": 1}
    assert store.counts({"FINISHED"}) == {}
    with pytest.raises(InvalidInput) as caught:
        store.counts({"SLEEPING"})
    assert caught.value.field == "state"


def test_a_final_job_written_again_is_counted_once(store):
    [job] = make_jobs(store, 1)
    done = store.update(store.update(job.transition(State.DOWNLOADING)).transition(State.ERROR))
    store.update(done.with_changes(details="a webhook was delivered"))
    store.update(store.get(job.id).with_changes(details="and another"))

    assert store.counts() == {"ERROR": 1}


# --- encoders -------------------------------------------------------------------


def test_heartbeat_encoders_and_forget(store):
    assert store.encoders() == []
    store.heartbeat("enc-1", {"slots": 2, "host": "a"})
    store.heartbeat("enc-2", {"slots": 1})
    first_seen = {e["id"]: e["last_seen"] for e in store.encoders()}
    store.heartbeat("enc-1", {"slots": 2, "busy": 1})

    encoders = {e["id"]: e for e in store.encoders()}

    assert set(encoders) == {"enc-1", "enc-2"}
    assert encoders["enc-1"]["info"] == {"slots": 2, "busy": 1}
    assert encoders["enc-1"]["last_seen"] >= first_seen["enc-1"]
    assert 0 <= age_seconds(encoders["enc-2"]["last_seen"]) < 60

    store.forget_encoder("enc-1")
    store.forget_encoder("never-seen")
    assert [e["id"] for e in store.encoders()] == ["enc-2"]


# --- big jobs -------------------------------------------------------------------


def finished(store, job, outputs):
    """``job`` (stored) taken through the encoder's states to FINISHED with ``outputs``."""
    for state in (State.DOWNLOADING, State.ENCODING, State.UPLOADING):
        job = store.update(job.transition(state, encoder_id="enc-1"))
    return store.update(job.transition(State.FINISHED, outputs=outputs))


@pytest.mark.parametrize("segment_seconds", [6, 2])
def test_a_three_hour_hls_ladder_finishes_and_its_manifest_lists_every_file(store, tmp_path, segment_seconds):
    media = tmp_path / "media"
    destination = f"file://{media}/long/"
    storage = StorageRouter([FileStorage([media])])
    # The files of 3 h in 4 renditions, as the uploader has them once stored,
    # turned into the output's result (and manifest) the way it does.
    facts, stored = hls_ladder_upload(destination, hours=3, segment_seconds=segment_seconds)
    made = results.finish(storage, facts, stored, destination, tmp_path / "manifest.json",
                          about={"output": 0})
    output = {"destination": destination, "preset": "hls-h264-ladder", "state": "FINISHED", "result": made}
    job = store.create(Job.new("file:///in/long.mov", [{"destination": destination, "preset": "hls-h264-ladder"}]))

    done = finished(store, job, [output])

    assert store.get(job.id) == done
    result = store.get(job.id).outputs[0]["result"]
    assert result["file_count"] == 4 * 3 * 3600 // segment_seconds + 5
    storage.fetch(destination + result["manifest"], tmp_path / "fetched.json")
    book = json.loads((tmp_path / "fetched.json").read_text())
    assert [f["path"] for f in book["files"]] == [uri[len(destination):] for uri, _ in stored]
    assert book["file_count"] == result["file_count"] and book["size"] == result["size"]


def test_a_job_of_the_most_outputs_with_the_longest_destinations_finishes(store):
    # Every output a long ladder, every destination as long as a URI may be.
    destinations = [f"s3://b/{n:02d}/" + "d" * (MAX_URI_LENGTH - 12) + "/" for n in range(MAX_OUTPUTS)]
    facts, stored = hls_ladder_upload("s3://b/long/")
    made = results.summary(facts, [(uri[len("s3://b/long/"):], size) for uri, size in stored], folder=True)
    asked = [{"destination": d, "preset": "hls-h264-ladder"} for d in destinations]
    job = store.create(Job.new("s3://b/in/long.mov", asked))

    done = finished(store, job, [{**o, "state": "FINISHED", "result": made} for o in asked])

    assert store.get(job.id) == done
    assert all(o["result"]["file_count"] == 7205 for o in store.get(job.id).outputs)


# --- the state machine against the store, at random -------------------------------


class ConditionalWrites(RuleBasedStateMachine):
    """Random transitions (allowed or not) written with fresh or stale versions.

    The model is every version the store accepted, per job; the store must take
    exactly the writes that start from the newest one and that the state machine
    allows, and each must add one to the version.
    """

    def __init__(self, store):
        super().__init__()
        self.store = store
        self.history = {}  # job id -> every record the store accepted, oldest first

    @rule()
    def create(self):
        job = self.store.create(new_job(len(self.history)))
        self.history[job.id] = [job]

    @precondition(lambda self: self.history)
    @rule(data=st.data(), new_state=st.sampled_from(list(State)), forge=st.booleans())
    def write(self, data, new_state, forge):
        job_id = data.draw(st.sampled_from(sorted(self.history)))
        accepted = self.history[job_id]
        base = data.draw(st.sampled_from(accepted))  # the newest, or a stale one
        newest = accepted[-1]
        allowed = new_state == base.state or can_transition(base.state, new_state)
        if forge or not allowed:
            # Past Job.transition, so the store's own guard is what gets tested.
            progress = data.draw(st.integers(0, 100))
            record = dataclasses.replace(base, state=new_state, progress=progress)
        elif new_state == base.state:
            record = base.with_changes(progress=7)
        else:
            record = base.transition(new_state)

        if base.version != newest.version:
            expected = StaleWrite
        elif not (new_state == newest.state or can_transition(newest.state, new_state)):
            expected = InvalidTransition
        else:
            expected = None

        if expected is None:
            stored = self.store.update(record)
            assert stored.version == newest.version + 1
            assert stored == dataclasses.replace(record, version=newest.version + 1)
            accepted.append(stored)
        else:
            with pytest.raises(expected):
                self.store.update(record)

    @invariant()
    def store_holds_the_last_accepted_record(self):
        for job_id, accepted in self.history.items():
            assert self.store.get(job_id) == accepted[-1]


def test_random_conditional_writes_obey_versions_and_state_machine(store):
    # Over HTTP each step costs milliseconds: fewer examples keep the time sane.
    examples = {"SqliteJobStore": 50, "DynamoDbJobStore": 10}.get(type(store).__name__, 15)
    run_state_machine_as_test(
        lambda: ConditionalWrites(store),
        settings=settings(max_examples=examples, stateful_step_count=15, deadline=None),
    )


@pytest.mark.parametrize("priority", [-50, 0, 7, 50])
def test_a_jobs_priority_comes_back_as_a_number(store, priority):
    job = store.create(new_job(priority=priority))
    assert store.get(job.id).priority == priority
    [listed] = [j for j in store.list()[0] if j.id == job.id]
    assert listed.priority == priority

