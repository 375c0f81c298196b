"""A feeder killed and started again rebuilds its view from the store and the
queues: nothing it accepted is lost, nothing an encoder reported is missed."""

import http.client
import signal
import threading

import pytest

from nommer.core.model.jobs import Job
from nommer.testing.media import make_clip
from nommer.testing.receiver import Receiver

from .farm import open_parts, wait_for
from .feeder import FeederProcess, call
from .test_feeder_process import encoder_processes


@pytest.fixture(scope="module")
def media(tmp_path_factory, ffmpeg_exe):
    folder = tmp_path_factory.mktemp("media")
    make_clip(ffmpeg_exe, folder / "tiny.mp4", seconds=0.5, size="160x120")
    return folder


def submit_body(media, name, notify_url=None):
    body = {"source": f"file://{media}/tiny.mp4",
            "outputs": [{"destination": f"file://{media}/{name}.mp4", "preset": "mp4-h264-360p"}]}
    if notify_url:
        body["notify_url"] = notify_url
    return body


def test_a_stored_job_that_was_never_queued_is_queued_at_start(tmp_path, media):
    feeder = FeederProcess(tmp_path, [media])
    parts = open_parts(feeder.env)
    try:
        # as if the feeder died between storing the job and queueing it
        job = parts.store.create(Job.new(f"file://{media}/tiny.mp4", [
            {"destination": f"file://{media}/orphan.mp4", "preset": "mp4-h264-360p"}]))
        assert parts.new_jobs.depth() == (0, 0)
    finally:
        parts.close()
    feeder.start()
    try:
        done = feeder.wait_job(job.id, timeout=60)
        assert done["state"] == "FINISHED", done
    finally:
        assert feeder.stop() == 0


def test_sigkill_during_a_burst_loses_no_accepted_job(tmp_path, media):
    receiver = Receiver()
    feeder = FeederProcess(tmp_path, [media], max_encoders=1, jobs_per_encoder=2).start()
    accepted, refused = [], []
    stop = threading.Event()

    def burst(worker):
        n = 0
        while not stop.is_set():
            n += 1
            try:
                status, job = call(feeder.base, "POST", "/jobs",
                                   submit_body(media, f"burst-{worker}-{n}", receiver.url))
            except (OSError, http.client.HTTPException):
                continue  # no (whole) answer: the feeder died under the request, or before it
            (accepted if status == 201 else refused).append(job)

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(accepted) >= 40, 60, "40 accepted submissions")
        feeder.stop(signal.SIGKILL)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert accepted and not refused
    # encoders the killed feeder started carry on; the feeder comes back and
    # adopts them
    feeder.start()
    try:
        for job in accepted:
            done = feeder.wait_job(job["id"], timeout=120)
            assert done["state"] == "FINISHED", done
        ids = {job["id"] for job in accepted}
        status, page = feeder.get("/jobs?limit=1000")
        stored = {j["id"] for j in page["jobs"]}
        assert ids <= stored
        # Only a request cut off by the kill may have left a job its client
        # never heard of (it was stored; the answer was lost): at most one
        # per client thread.
        assert len(stored - ids) <= len(threads)
        for job_id in ids:
            wait_for(lambda: "FINISHED" in receiver.states(job_id), 30, "the final webhook")
    finally:
        assert feeder.stop() == 0
        receiver.close()
    assert not encoder_processes(tmp_path / "data"), "the restarted feeder left encoders behind"
