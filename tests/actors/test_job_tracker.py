"""The JobTracker's periodic recount asks the store about unfinished jobs
only, however many finished jobs it holds."""


import time

import pykka
import pytest

from nommer.actors import addresses
from nommer.actors.job_tracker import WORKLOAD_EVERY, JobTracker
from nommer.actors.messages import Submitted, Workload
from nommer.actors.ticker import Tick
from nommer.core import config as config_mod
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.model.jobs import UNFINISHED_STATES, Job, State

from ..e2e.farm import wait_for


class CountingStore:
    """A real SQLite store that notes what each counts() call asked for."""

    def __init__(self, inner):
        self.inner = inner
        self.asked = []

    def counts(self, states=None):
        self.asked.append(states)
        return self.inner.counts(states)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Scaler(pykka.ThreadingActor):
    """Stands at the Scaler's address, keeping the workloads."""

    address = addresses.SCALER

    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def on_receive(self, message):
        if isinstance(message, Workload):
            self.seen.append(message)


@pytest.fixture
def store(tmp_path):
    store = CountingStore(SqliteJobStore(tmp_path / "nommer.sqlite3"))
    yield store
    store.inner.close()


@pytest.fixture
def tracking(store, tmp_path):
    """start(): a JobTracker on ``store`` beside a Scaler that keeps the
    workloads; returns (workloads seen, the tracker). Both stop at the end."""
    started = []

    def start():
        seen = []
        started.append(Scaler.start(seen))
        tracker = JobTracker.start(config_mod.load(environ={}, overrides={"data_dir": str(tmp_path)}),
                                   store, storage=None)
        started.append(tracker)
        wait_for(lambda: seen, 5, "the workload of the start")
        return seen, tracker

    yield start
    for ref in reversed(started):
        if ref.is_alive():
            ref.stop()


def test_a_tick_counts_the_unfinished_states_only(store, tmp_path):
    for n in range(3):
        job = store.create(Job.new(f"file:///in/{n}.mov", [{"destination": f"file:///o/{n}.mp4",
                                                              "preset": "mp4-h264-480p"}]))
        if n:
            store.update(job.transition(State.CANCELED))
    seen = []
    scaler = Scaler.start(seen)
    tracker = JobTracker.start(config_mod.load(environ={}, overrides={"data_dir": str(tmp_path)}),
                               store, storage=None)
    try:
        store.asked.clear()
        tracker.tell(Tick("tracker"))
        wait_for(lambda: store.asked, 5, "a recount")
        wait_for(lambda: seen and seen[-1].unfinished == 1, 5, "the workload")
    finally:
        tracker.stop()
        scaler.stop()

    assert store.asked and all(set(a) == set(UNFINISHED_STATES) for a in store.asked)
    assert not any(s.is_final for a in store.asked for s in a)


@pytest.mark.parametrize("spot_first", [True, False])
def test_the_workload_says_since_when_the_oldest_pending_job_waits(store, tmp_path, spot_first):
    import time

    first = store.create(Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4",
                                                       "preset": "mp4-h264-480p"}]))
    time.sleep(0.05)
    store.create(Job.new("file:///in/b.mov", [{"destination": "file:///o/b.mp4",
                                               "preset": "mp4-h264-480p"}]))
    seen = []
    scaler = Scaler.start(seen)
    settings = {"data_dir": str(tmp_path), "ec2_spot": spot_first, "on_demand_after": 30}
    tracker = JobTracker.start(config_mod.load(environ={}, overrides=settings), store, storage=None)
    try:
        tracker.tell(Tick("tracker"))
        wait_for(lambda: seen and seen[-1].unfinished == 2, 5, "the workload")
    finally:
        tracker.stop()
        scaler.stop()

    if spot_first:
        from nommer.core.model.jobs import parse_time

        assert seen[-1].oldest_pending == parse_time(first.created_at).timestamp()
    else:  # not looked for where nothing uses it
        assert seen[-1].oldest_pending is None
def test_the_workload_carries_the_predicted_seconds_of_the_jobs(store, tmp_path):
    probed = store.create(Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4",
                                                        "preset": "mp4-h264-720p"}]))
    probed = store.update(probed.transition(State.DOWNLOADING))
    probed = store.update(probed.transition(State.ENCODING, probe={"duration": 1000.0}))
    store.create(Job.new("file:///in/b.mov", [{"destination": "file:///o/b.mp4", "preset": "mp4-h264-720p"}]))
    seen = []
    scaler = Scaler.start(seen)
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "default_job_seconds": 50})
    tracker = JobTracker.start(config, store, storage=None)
    try:
        wait_for(lambda: seen, 5, "the workload")
        factor = tracker.proxy().cost_factors().get(timeout=5)["mp4-h264-720p"]
        assert seen[-1].unfinished == 2
        assert seen[-1].backlog_seconds == pytest.approx(1000.0 * factor + 50)
    finally:
        tracker.stop()
        scaler.stop()


def test_submitted_jobs_are_counted_and_a_burst_gives_few_workloads(store, tracking):
    seen, tracker = tracking()
    told = len(seen)
    jobs = [store.create(Job.new(f"file:///in/{n}.mov", [{"destination": f"file:///o/{n}.mp4",
                                                           "preset": "mp4-h264-480p"}]))
            for n in range(200)]
    started = time.monotonic()
    for job in jobs:  # as the Intake tells them, faster than one a millisecond
        tracker.tell(Submitted(job))
    wait_for(lambda: seen[-1].unfinished == 200 and seen[-1].submitted == 200, 5,
             "the workload of 200 jobs")
    took = time.monotonic() - started

    # at most one per WORKLOAD_EVERY (and the last one at most that late), not one per job
    assert len(seen) - told <= took / WORKLOAD_EVERY + 1
    assert seen[-1].backlog_seconds > 0


def test_an_accelerated_job_counts_as_many_as_its_pieces_that_may_run_at_once(store, tmp_path):
    from nommer.core.model import pieces
    from nommer.core.ffmpeg.segments import Scan, plan

    frames = tuple(i / 10 for i in range(200))
    cut = plan(Scan(frames=frames, keyframes=tuple(range(0, 200, 10)), end=20.0), 5.0)
    made = pieces.plan([(0, cut.segments, True)])  # 4 segments, the audio, the stitch waiting
    made, _ = pieces.finished(made, "o0-s0000")
    job = store.create(Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4", "preset": "mp4-h264-480p"}]))
    job = store.update(job.transition(State.DOWNLOADING, encoder_id="enc-1"))
    job = store.update(job.transition(State.ENCODING, encoder_id=None, pieces=made))
    store.create(Job.new("file:///in/b.mov", [{"destination": "file:///o/b.mp4", "preset": "mp4-h264-480p"}]))
    seen = []
    scaler = Scaler.start(seen)
    tracker = JobTracker.start(config_mod.load(environ={}, overrides={"data_dir": str(tmp_path)}),
                               store, storage=None)
    try:
        # 3 segments and the audio of the first, 1 of the second
        wait_for(lambda: seen and seen[-1].unfinished == 5, 5, "the workload")
        # what /metrics shows as nommer_pieces, then nothing once the job ends
        proxy = tracker.proxy()
        assert proxy.piece_counts().get() == {"WAITING": 1, "PENDING": 4, "RUNNING": 0, "DONE": 1}
        proxy.cancel(job.id).get()
        assert proxy.piece_counts().get() == {"WAITING": 0, "PENDING": 0, "RUNNING": 0, "DONE": 0}
    finally:
        tracker.stop()
        scaler.stop()


def test_a_ladders_rendition_pieces_each_count_for_the_scaler(store, tmp_path):
    from nommer.core.ffmpeg.segments import Scan, plan
    from nommer.core.model import pieces

    frames = tuple(i / 10 for i in range(130))
    cut = plan(Scan(frames=frames, keyframes=tuple(range(0, 130, 10)), end=13.0), 6.0, hls=True)
    # 3 HLS-cut segments of each of 4 renditions, the audio, the stitch waiting
    made = pieces.plan([(0, cut.segments, True, (1.0, 0.6, 0.5, 0.4))])
    made, _ = pieces.finished(made, "o0-r2-s0001")
    job = store.create(Job.new("file:///in/a.mov", [{"destination": "file:///o/ladder/", "preset": "hls-h264-ladder"}]))
    job = store.update(job.transition(State.DOWNLOADING, encoder_id="enc-1"))
    store.update(job.transition(State.ENCODING, encoder_id=None, pieces=made))
    seen = []
    scaler = Scaler.start(seen)
    tracker = JobTracker.start(config_mod.load(environ={}, overrides={"data_dir": str(tmp_path)}),
                               store, storage=None)
    try:
        # 11 rendition segments and the audio may run at once
        wait_for(lambda: seen and seen[-1].unfinished == 12, 5, "the workload")
        assert tracker.proxy().piece_counts().get() == {"WAITING": 1, "PENDING": 12, "RUNNING": 0, "DONE": 1}
    finally:
        tracker.stop()
        scaler.stop()


def test_a_piece_done_refreshes_the_workload_and_tells_no_webhook(store, tmp_path):
    from nommer.actors.messages import Ack, Notify, StateChanged
    from nommer.core.ffmpeg.segments import Scan, plan
    from nommer.core.model import pieces
    from nommer.core.model.messages import PIECE_EVENT, state_change

    class Stand(pykka.ThreadingActor):
        def __init__(self, seen):
            super().__init__()
            self.seen = seen

        def on_receive(self, message):
            self.seen.append(message)

    class Notifier(Stand):
        address = addresses.NOTIFIER

    class Dispatcher(Stand):
        address = addresses.DISPATCHER

    frames = tuple(i / 10 for i in range(200))
    made = pieces.plan([(0, plan(Scan(frames=frames, keyframes=tuple(range(0, 200, 10)), end=20.0), 5.0).segments,
                         False)])
    job = store.create(Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4", "preset": "mp4-h264-480p"}],
                               notify_url="https://app.example/hook"))
    job = store.update(job.transition(State.DOWNLOADING, encoder_id="enc-1"))
    job = store.update(job.transition(State.ENCODING, encoder_id=None, pieces=made))
    seen, told = [], []
    scaler = Scaler.start(seen)
    notifier = Notifier.start(told)
    dispatcher = Dispatcher.start(told)
    tracker = JobTracker.start(config_mod.load(environ={}, overrides={"data_dir": str(tmp_path)}),
                               store, storage=None)
    try:
        wait_for(lambda: seen and seen[-1].unfinished == 4, 5, "the planned workload")
        for piece_id in ("o0-s0000", "o0-s0001"):
            made, _ = pieces.finished(made, piece_id)
        job = store.update(store.get(job.id).with_changes(pieces=made))
        tracker.tell(StateChanged(state_change(job, PIECE_EVENT), receipt="r-1"))
        wait_for(lambda: seen[-1].unfinished == 2, 5, "the workload of the pieces left")
        wait_for(lambda: any(isinstance(m, Ack) for m in told), 5, "the change acknowledged")
        assert not any(isinstance(m, Notify) for m in told)
    finally:
        for actor in (tracker, dispatcher, notifier, scaler):
            actor.stop()


class WritingStore(CountingStore):
    """A real SQLite store that notes the webhook records of each write."""

    def __init__(self, inner):
        super().__init__(inner)
        self.written = []

    def update(self, job):
        self.written.append([n["id"] for n in job.notifications])
        return self.inner.update(job)


def test_a_jobs_webhook_records_are_written_together(tmp_path):
    from nommer.actors.messages import Notified

    store = WritingStore(SqliteJobStore(tmp_path / "nommer.sqlite3"))
    running = store.create(Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4",
                                                         "preset": "mp4-h264-480p"}]))
    ended = store.create(Job.new("file:///in/b.mov", [{"destination": "file:///o/b.mp4",
                                                       "preset": "mp4-h264-480p"}]))
    scaler = Scaler.start([])
    tracker = JobTracker.start(config_mod.load(environ={}, overrides={"data_dir": str(tmp_path)}),
                               store, storage=None)
    try:
        def told(job, n, state):
            tracker.tell(Notified(job.id, {"id": f"{job.id}-{n}", "state": state, "attempts": 1, "status": 204,
                                           "delivered_at": "2026-12-03T00:00:00.000000Z"}))

        for n, state in enumerate(["PENDING", "DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED"]):
            told(ended, n, state)
        told(running, 0, "PENDING")
        told(running, 1, "DOWNLOADING")
        # The job that ended: its five records in one write, at its last.
        wait_for(lambda: len(store.get(ended.id).notifications) == 5, 5, "the ended job's records")
        # A running job's at the next tick (the ticker's first may be it).
        tracker.tell(Tick("tracker"))
        wait_for(lambda: len(store.get(running.id).notifications) == 2, 5, "the running job's records")
        assert [w for w in store.written if w and w[0].startswith(ended.id)] == [
            [f"{ended.id}-{n}" for n in range(5)]]
        assert [n["state"] for n in store.get(running.id).notifications] == ["PENDING", "DOWNLOADING"]
    finally:
        tracker.stop()
        scaler.stop()
        store.inner.close()


def test_the_same_workload_is_not_told_twice_to_the_same_scaler(store, tmp_path):
    from nommer.actors.messages import StateChanged
    from nommer.core.model.messages import state_change

    job = store.create(Job.new("file:///in/a.mov", [{"destination": "file:///o/a.mp4",
                                                     "preset": "mp4-h264-480p"}]))
    seen = []
    scaler = Scaler.start(seen)
    tracker = JobTracker.start(config_mod.load(environ={}, overrides={"data_dir": str(tmp_path)}),
                               store, storage=None)
    try:
        wait_for(lambda: seen and seen[-1].unfinished == 1, 5, "the first workload")
        told = len(seen)
        for state in (State.DOWNLOADING, State.ENCODING):
            job = store.update(job.transition(state, encoder_id="enc-1"))
            tracker.tell(StateChanged(state_change(job), None))
        tracker.tell(Tick("tracker"))
        job = store.update(store.update(job.transition(State.UPLOADING)).transition(State.FINISHED))
        tracker.tell(StateChanged(state_change(job), None))
        wait_for(lambda: seen[-1].unfinished == 0, 5, "the workload of no job")
        assert len(seen) == told + 1  # nothing in between changed what the Scaler knows
        # A Scaler started afresh (a restart) is told again, however unchanged.
        scaler.stop()
        again = []
        scaler = Scaler.start(again)
        tracker.tell(Tick("tracker"))
        wait_for(lambda: again and again[-1].unfinished == 0, 5, "the new Scaler's workload")
    finally:
        tracker.stop()
        scaler.stop()


def test_jobs_that_arrive_together_are_told_once_and_taken_at_once(store, tracking, monkeypatch):
    from nommer.actors import job_tracker
    from nommer.actors.messages import Arrivals, Arrived

    monkeypatch.setattr(job_tracker, "ARRIVALS_GATHER", 0.5)
    seen, tracker = tracking()
    arrivals = Arrivals()

    def new_job(name):
        return store.create(Job.new(f"file:///in/{name}.mov", [{"destination": f"file:///o/{name}.mp4",
                                                                 "preset": "mp4-h264-480p"}]))

    jobs = [new_job(n) for n in range(50)]
    tells = [arrivals.add(job) for job in jobs]
    assert tells == [True] + [False] * 49  # one tell covers them all
    tracker.tell(Arrived(arrivals))
    wait_for(lambda: seen[-1].unfinished == 50 and seen[-1].submitted == 50, 5, "the workload of 50 jobs")
    # taken, and held for ARRIVALS_GATHER: a job that comes meanwhile
    # tells nothing, and is taken when the hold ends
    assert arrivals.add(new_job("held")) is False
    wait_for(lambda: seen[-1].unfinished == 51, 5, "the held job")
    # a hold that ends with nothing waiting: the next one is told again
    time.sleep(2 * job_tracker.ARRIVALS_GATHER)
    assert arrivals.add(new_job("late")) is True
    # a tell lost (a JobTracker that crashed with it) is made again after a while
    monkeypatch.setattr(Arrivals, "RETELL_AFTER", 0.0)
    assert arrivals.add(new_job("later")) is True
    tracker.tell(Arrived(arrivals))
    wait_for(lambda: seen[-1].unfinished == 53 and seen[-1].submitted == 53, 5, "the two late jobs")


def test_a_job_held_among_the_arrivals_is_taken_before_a_change_of_it(store, tracking, monkeypatch):
    from nommer.actors import job_tracker
    from nommer.actors.messages import Arrivals, Arrived, StateChanged
    from nommer.core.model.messages import state_change

    monkeypatch.setattr(job_tracker, "ARRIVALS_GATHER", 30.0)
    seen, tracker = tracking()
    arrivals = Arrivals()
    outputs = [{"destination": "file:///o/a.mp4", "preset": "mp4-h264-480p"}]
    first = store.create(Job.new("file:///in/a.mov", outputs))
    assert arrivals.add(first) is True
    tracker.tell(Arrived(arrivals))
    wait_for(lambda: seen[-1].submitted == 1, 5, "the first job")
    held = store.create(Job.new("file:///in/b.mov", outputs))
    assert arrivals.add(held) is False  # held for 30 s
    moved = store.update(held.transition(State.DOWNLOADING, encoder_id="enc-1"))
    tracker.tell(StateChanged(state_change(moved)))
    # the change made the JobTracker take the held job first, long before the hold ends
    wait_for(lambda: seen[-1].submitted == 2 and seen[-1].unfinished == 2, 5,
             "the held job, taken with its change")
    assert arrivals.take_early() == []


def test_a_job_told_to_a_job_tracker_that_crashed_in_a_hold_is_taken_by_the_next_at_its_start(
        store, tmp_path, monkeypatch):
    # The gateway's Arrivals outlives the JobTracker: one that crashes while
    # it holds them leaves the jobs added since untold (the hold covers
    # them). The next takes them when it starts, before any change of them;
    # taken after their changes, a job finished meanwhile would be counted
    # again as the PENDING job it was submitted as.
    from nommer.actors import job_tracker
    from nommer.actors.messages import Arrivals, Arrived, StateChanged
    from nommer.core.model.messages import state_change

    monkeypatch.setattr(job_tracker, "ARRIVALS_GATHER", 30.0)  # the hold outlasts the crash
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path)})
    outputs = [{"destination": "file:///o/a.mp4", "preset": "mp4-h264-480p"}]
    arrivals = Arrivals()
    seen = []
    scaler = Scaler.start(seen)
    first = JobTracker.start(config, store, storage=None, arrivals=arrivals)
    second = None
    try:
        wait_for(lambda: seen, 5, "the workload of the start")
        kept = store.create(Job.new("file:///in/kept.mov", outputs))
        arrivals.add(kept)  # (held since the start: no tell needed, but one is harmless)
        first.tell(Arrived(arrivals))
        wait_for(lambda: seen[-1].submitted == 1, 5, "the first job")
        first.tell("a message it does not know")  # it crashes, holding the arrivals
        wait_for(lambda: not first.is_alive(), 5, "the crash")

        # stored while no JobTracker runs: the hold covers it, nothing is told
        done = store.create(Job.new("file:///in/done.mov", outputs))
        assert arrivals.add(done) is False
        # and an encoder is quick: it is finished before the next one starts
        done = store.update(store.update(done.transition(State.DOWNLOADING, encoder_id="enc-1"))
                            .transition(State.CANCELED))

        second = JobTracker.start(config, store, storage=None, arrivals=arrivals)
        second.tell(StateChanged(state_change(done)))
        wait_for(lambda: seen[-1].submitted == 1 and seen[-1].unfinished == 1, 5,
                 "the new JobTracker's count: the finished job taken at its start")
        assert arrivals.take_early() == []

        # a later tell finds only the job added since
        monkeypatch.setattr(Arrivals, "RETELL_AFTER", 0.0)
        late = store.create(Job.new("file:///in/late.mov", outputs))
        assert arrivals.add(late) is True
        second.tell(Arrived(arrivals))
        wait_for(lambda: seen[-1].submitted == 2, 5, "the late job")
        assert second.proxy().unfinished.get() == {kept.id: State.PENDING, late.id: State.PENDING}
        assert set(second.proxy().waiting.get()) == {kept.id, late.id}
    finally:
        if second is not None:
            second.stop()
        if first.is_alive():
            first.stop()
        scaler.stop()


def test_the_alarm_of_a_job_tracker_that_crashed_ends(tracking):
    # on_stop is not called after a crash; an alarm with nothing due would
    # wait for ever, a thread left behind at each restart.
    _seen, tracker = tracking()
    alarm = tracker.proxy().alarm.get()
    assert alarm._thread.is_alive()
    tracker.tell("a message it does not know")
    wait_for(lambda: not tracker.is_alive(), 5, "the crash")
    wait_for(lambda: not alarm._thread.is_alive(), 5, "the alarm's thread to end")
