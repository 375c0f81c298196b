"""A feeder running in this test's process, so its actors can be crashed on
purpose: the Supervisor restarts them and the farm goes on."""

import pykka
import pytest

from nommer.actors import addresses, base
from nommer.core import config as config_mod
from nommer.feeder import Feeder
from nommer.testing.media import make_clip

from ..e2e.farm import farm_env, wait_for
from ..e2e.feeder import call


@pytest.fixture
def running_feeder(tmp_path, ffmpeg_exe, monkeypatch):
    media = tmp_path / "media"
    media.mkdir()
    make_clip(ffmpeg_exe, media / "clip.mp4", seconds=1.0, size="320x240")
    env = farm_env(tmp_path / "data", [media], port=0, scale_interval=0.3, max_restarts=2,
                   restart_window=60)
    config = config_mod.load(environ={k: v for k, v in env.items() if k.startswith("NOMMER_")})
    feeder = Feeder(config).start()
    host, port = feeder.address()
    try:
        yield feeder, f"http://{host}:{port}", media
    finally:
        feeder.stop()
        assert pykka.ActorRegistry.get_all() == []


def crash(actor_name):
    ref = base.lookup(actor_name)
    ref.tell(object())  # a message no actor handles: it raises in the actor
    return ref


def health(url):
    return call(url, "GET", "/health")[1]


@pytest.mark.parametrize("actor_name, child", [(addresses.JOB_TRACKER, "job_tracker"),
                                               (addresses.DISPATCHER, "dispatcher")])
def test_crashed_actor_is_restarted_and_the_next_job_finishes(running_feeder, actor_name, child):
    feeder, url, media = running_feeder
    old = crash(actor_name)
    wait_for(lambda: not old.is_alive(), 5, "the actor to die")
    wait_for(lambda: health(url)["actors"][child]["restarts"] == 1
             and health(url)["actors"][child]["state"] == "running", 10, "the restart")
    assert "got a message it does not handle" in health(url)["actors"][child]["last_error"]
    assert base.lookup(actor_name) is not old
    status, job = call(url, "POST", "/jobs", {
        "source": f"file://{media}/clip.mp4",
        "outputs": [{"destination": f"file://{media}/after.mp4", "preset": "mp4-h264-480p"}]})
    assert status == 201, job
    done = wait_for(lambda: (lambda j: j if j["state"] in ("FINISHED", "ERROR") else None)(
        call(url, "GET", f"/jobs/{job['id']}")[1]), 90, "the job to end")
    assert done["state"] == "FINISHED", done
    assert (media / "after.mp4").stat().st_size > 0


def test_an_actor_that_keeps_crashing_stops_the_feeder(running_feeder):
    feeder, url, media = running_feeder
    for n in range(3):  # max_restarts is 2
        old = crash(addresses.REAPER)
        wait_for(lambda: not old.is_alive(), 5, "the actor to die")
        if n < 2:
            wait_for(lambda: base.lookup(addresses.REAPER) not in (None, old), 10, "the restart")
    wait_for(feeder.fatal.is_set, 10, "the supervisor to give up")
    assert "reaper actor kept crashing" in feeder.fatal_reason



# -- start-up failures reach the Supervisor ----------------------------------------

class Flaky(base.Child):
    """Fails in on_start the first ``failures`` times it is started."""

    name = "flaky"
    starts = 0
    failures = 1

    def on_start(self):
        type(self).starts += 1
        if type(self).starts <= type(self).failures:
            raise RuntimeError("the store is not there yet")


def supervise(child, max_restarts=3):
    from nommer.actors.supervisor import ChildSpec, Supervisor

    gave_up = []
    supervisor = Supervisor.start([ChildSpec("flaky", child.start)], max_restarts, 60,
                                  lambda name, error: gave_up.append((name, error)))
    return supervisor, gave_up


def stop_all():
    pykka.ActorRegistry.stop_all()


def test_a_child_failing_in_on_start_is_restarted_with_backoff():
    class Once(Flaky):
        starts, failures = 0, 1

    supervisor, gave_up = supervise(Once)
    try:
        supervisor.proxy().start_children().get(timeout=10)
        health = supervisor.proxy().health().get(timeout=5)["flaky"]
        assert health["state"] == "restarting"
        assert health["last_error"] == "it failed to start: RuntimeError: the store is not there yet"
        wait_for(lambda: supervisor.proxy().health().get(timeout=5)["flaky"]["state"] == "running", 10,
                 "the restart")
        assert supervisor.proxy().health().get(timeout=5)["flaky"]["restarts"] == 1
        assert Once.starts == 2 and gave_up == []
    finally:
        stop_all()


def test_a_child_that_never_starts_makes_the_supervisor_give_up():
    class Never(Flaky):
        starts, failures = 0, 100

    supervisor, gave_up = supervise(Never, max_restarts=2)
    try:
        supervisor.proxy().start_children().get(timeout=10)
        wait_for(lambda: gave_up, 15, "the Supervisor to give up")
        assert gave_up[0][0] == "flaky" and "RuntimeError" in gave_up[0][1]
        assert supervisor.proxy().health().get(timeout=5)["flaky"]["state"] == "failed"
        assert Never.starts == 3  # the start and two restarts
    finally:
        stop_all()


def test_a_dead_child_is_reported_dead():
    class Fine(Flaky):
        starts, failures = 0, 0

    supervisor, _ = supervise(Fine)
    try:
        supervisor.proxy().start_children().get(timeout=10)
        assert supervisor.proxy().health().get(timeout=5)["flaky"]["state"] == "running"
        pykka.ActorRegistry.get_by_class(Fine)[0].stop()  # gone without a word to the Supervisor
        assert supervisor.proxy().health().get(timeout=5)["flaky"]["state"] == "dead"
    finally:
        stop_all()


def test_ping_says_why_an_actor_did_not_start():
    class Broken(base.ReportsStart, pykka.ThreadingActor):
        def on_start(self):
            raise OSError("no such device")

    with pytest.raises(base.StartFailed, match="it failed to start: OSError: no such device"):
        base.ping(Broken.start())
    stop_all()


def test_a_message_to_an_actor_that_is_not_running_is_logged_and_counted():
    import structlog

    before = base.UNDELIVERED["Scaler"]
    with structlog.testing.capture_logs() as logs:
        assert base.tell(addresses.SCALER, object()) is False
    assert base.UNDELIVERED["Scaler"] == before + 1
    assert [e["to"] for e in logs if e["event"] == "message to an actor that is not running"] == ["Scaler"]


def test_actors_are_found_by_address_whatever_their_class_is_called():
    from nommer.actors.dispatcher import Dispatcher

    Renamed = type("SomethingElse", (Dispatcher,), {})
    assert Renamed.address == addresses.DISPATCHER
    with pytest.raises(TypeError, match="addressed by an Address"):
        base.lookup("Dispatcher")


def test_one_crash_counts_once_and_a_replaced_actors_report_is_ignored():
    # A child that crashes while the Supervisor pings it fails the start
    # and reports its crash too: one failure, one restart.
    from nommer.actors.supervisor import ChildSpec, Supervisor

    class Fine(Flaky):
        starts, failures = 0, 0

    refs, gave_up = [], []

    def factory():
        refs.append(Fine.start())
        return refs[-1]

    supervisor = Supervisor.start([ChildSpec("flaky", factory)], 2, 60,
                                  lambda name, error: gave_up.append(name))
    try:
        supervisor.proxy().start_children().get(timeout=10)
        first = refs[0]
        first.stop()
        for _ in range(2):
            supervisor.tell(base.ChildFailed("flaky", "RuntimeError: boom", first.actor_urn))
        wait_for(lambda: len(refs) == 2 and supervisor.proxy().health().get(timeout=5)["flaky"]["state"]
                 == "running", 10, "the restart")
        supervisor.tell(base.ChildFailed("flaky", "RuntimeError: late news", first.actor_urn))
        health = supervisor.proxy().health().get(timeout=5)["flaky"]
        assert (health["restarts"], health["last_error"]) == (1, "RuntimeError: boom")
        assert len(refs) == 2 and refs[1].is_alive() and gave_up == []
    finally:
        stop_all()
