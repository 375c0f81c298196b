"""The whole farm on one machine: a real feeder process, its local fleet of
encoder processes, the HTTP API and webhooks, all on loopback."""

import json
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest

from nommer.core import ffmpeg
from nommer.testing.media import make_clip
from nommer.testing.receiver import Receiver

from .feeder import FeederProcess, call, free_port
from .farm import wait_for
from .farm import decodes, ffmpeg_processes_in, video_stream


@pytest.fixture(scope="module")
def media(tmp_path_factory, ffmpeg_exe):
    folder = tmp_path_factory.mktemp("media")
    make_clip(ffmpeg_exe, folder / "clip.mp4", seconds=2.0, size="640x360")
    make_clip(ffmpeg_exe, folder / "long.mp4", seconds=60.0, size="640x360")
    return folder


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def feeder(tmp_path_factory, media):
    workdir = tmp_path_factory.mktemp("feeder")
    f = FeederProcess(workdir, [media], max_inactivity=4, max_encoders=1).start()
    yield f
    assert f.stop() == 0, f.log()
    assert not encoder_processes(workdir / "data"), "encoder processes left behind"


def encoder_processes(data_dir):
    import os

    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
                env = open(f"/proc/{pid}/environ", "rb").read()
            except OSError:
                continue
            if b"nommer.encoder" in cmd and f"NOMMER_DATA_DIR={data_dir}".encode() in env:
                found.append(int(pid))
    return found


def test_job_through_the_api_and_a_local_fleet(feeder, media, receiver, ffmpeg_exe):
    out = media / "api-480.mp4"
    status, job = feeder.post("/jobs", {
        "source": f"file://{media}/clip.mp4",
        "outputs": [{"destination": f"file://{out}", "preset": "mp4-h264-480p"}],
        "notify_url": receiver.url,
    })
    assert status == 201, job
    assert job["state"] == "PENDING"
    wait_for(lambda: feeder.get("/fleet")[1]["members"], 20, "the fleet to start an encoder")
    done = feeder.wait_job(job["id"])
    assert done["state"] == "FINISHED", done
    assert done["progress"] == 100 and done["attempt"] == 1
    assert decodes(ffmpeg_exe, out)
    assert video_stream(ffmpeg.probe(ffmpeg_exe, out))["height"] == 360  # never upscaled
    wait_for(lambda: "FINISHED" in receiver.states(job["id"]), 10, "the last webhook")
    assert receiver.states(job["id"]) == ["PENDING", "DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED"]
    # The operator can follow the job in the feeder's log, a line per change.
    lines = [json.loads(line) for line in feeder.log_path.read_text().splitlines() if '"job state"' in line]
    lines = [line for line in lines if line["job_id"] == job["id"]]
    assert [line["state"] for line in lines] == ["PENDING", "DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED"]
    assert lines[-1]["encoder_id"] == done["encoder_id"]


def test_legacy_submit_and_form_webhooks(feeder, media, receiver, ffmpeg_exe):
    out = media / "legacy.mp4"
    body = {
        "source_path": f"file://{media}/clip.mp4",
        "dest_path": f"file://{out}",
        "notify_url": receiver.url + "?legacy=1",
        "job_options": {
            "nommer": "media_nommer.ec2nommerd.nommers.ffmpeg.FFmpegNommer",
            "options": [{"outfile_options": [["vcodec", "libx264"], ["b", "400k"],
                                             ["acodec", "libfaac"], ["ab", "64k"]]}],
        },
    }
    # media-nommer's client posted JSON without a JSON content type
    status, answer = call(feeder.base, "POST", "/job/submit", raw=json.dumps(body).encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and answer["success"] is True, answer
    done = feeder.wait_job(answer["job_id"])
    assert done["state"] == "FINISHED", done
    assert decodes(ffmpeg_exe, out)

    def form_states():
        forms = [urllib.parse.parse_qs(p["text"]) for p in receiver.posts
                 if p["path"].endswith("legacy=1")]
        return [f["job_state"][0] for f in forms if f["unique_id"][0] == answer["job_id"]]
    wait_for(lambda: "FINISHED" in form_states(), 10, "the last form webhook")
    # media-nommer never told PENDING: the submission's answer said it
    assert form_states() == ["DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED"]


def test_cancel_during_encoding(feeder, media):
    status, job = feeder.post("/jobs", {
        "source": f"file://{media}/long.mp4",
        "outputs": [{"destination": f"file://{media}/never.mp4", "preset": "mp4-h264-720p"}],
    })
    assert status == 201
    wait_for(lambda: (lambda j: j["state"] == "ENCODING" and j["progress"] > 0)(
        feeder.get(f"/jobs/{job['id']}")[1]), 60, "encoding to start")
    started = time.monotonic()
    status, canceled = feeder.post(f"/jobs/{job['id']}/cancel")
    assert status == 200 and canceled["state"] == "CANCELED"
    work = feeder.workdir / "data" / "work"
    wait_for(lambda: not ffmpeg_processes_in(work), 2.0, "ffmpeg to stop")
    assert time.monotonic() - started < 2.0
    assert not (media / "never.mp4").exists()
    status, again = feeder.post(f"/jobs/{job['id']}/cancel")
    assert status == 409, again


def scrape(feeder):
    from prometheus_client.parser import text_string_to_metric_families

    status, text = feeder.get("/metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_move_with_the_work(feeder, media, receiver):
    before = scrape(feeder)
    status, job = feeder.post("/jobs", {
        "source": f"file://{media}/clip.mp4",
        "outputs": [{"destination": f"file://{media}/metrics-360.mp4", "preset": "mp4-h264-360p"}],
        "notify_url": receiver.url,
    })
    assert status == 201
    assert feeder.wait_job(job["id"])["state"] == "FINISHED"
    wait_for(lambda: "FINISHED" in receiver.states(job["id"]), 10, "the last webhook")
    after = wait_for(lambda: (lambda m: m if m[("nommer_webhook_deliveries_total", (("outcome", "delivered"),))]
                              >= before[("nommer_webhook_deliveries_total", (("outcome", "delivered"),))] + 5
                              else None)(scrape(feeder)), 10, "the deliveries to be counted")

    def moved(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert moved("nommer_jobs_submitted_total", api="jobs") == 1
    assert moved("nommer_jobs_ended_total", state="FINISHED", error_code="") == 1
    assert moved("nommer_webhook_deliveries_total", outcome="delivered") == 5  # PENDING to FINISHED
    assert moved("nommer_job_queue_wait_seconds_count") == 1
    for phase in ("download", "encode", "upload"):
        assert moved("nommer_job_phase_seconds_count", phase=phase) == 1
    assert moved("nommer_job_duration_seconds_count", state="FINISHED") == 1
    assert moved("nommer_jobs", state="FINISHED") == 1
    assert after[("nommer_encoder_launches_total", ())] >= 1  # the module's first job launched one
    assert after[("nommer_healthy", ())] == 1
    assert ("nommer_queue_messages", (("queue", "new_jobs"), ("state", "waiting"))) in after
    assert after[("nommer_pieces", (("state", "RUNNING"),))] == 0  # no accelerated job at work
    assert after[("process_resident_memory_bytes", ())] > 10_000_000


def test_idle_encoder_retires_and_fleet_notices(feeder):
    # max_inactivity is 4 s: with no work left the encoder stops by itself
    wait_for(lambda: feeder.get("/fleet")[1]["members"] == [], 30, "the encoder to retire")
    assert feeder.get("/fleet")[1]["encoders"] == []
    assert not encoder_processes(feeder.workdir / "data")


def test_health_lists_every_actor(feeder):
    status, health = feeder.get("/health")
    assert status == 200
    assert set(health["actors"]) == {"job_tracker", "notifier", "dispatcher", "scaler",
                                     "reaper", "http_front"}
    assert all(a["state"] == "running" and a["restarts"] == 0 for a in health["actors"].values())


def test_sigterm_stops_feeder_and_its_encoders(tmp_path, media):
    f = FeederProcess(tmp_path, [media], max_encoders=1, min_encoders=1).start()
    wait_for(lambda: encoder_processes(tmp_path / "data"), 20, "an encoder to start")
    assert f.stop(signal.SIGTERM) == 0, f.log()
    assert not encoder_processes(tmp_path / "data")


def test_port_in_use_fails_the_start_clearly(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "nommer.feeder", "--port", str(port), "--data-dir", str(tmp_path / "d")],
            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_a_second_feeder_on_the_same_data_folder_refuses_to_start(tmp_path, feeder):
    data = feeder.workdir / "data"
    result = subprocess.run(
        [sys.executable, "-m", "nommer.feeder", "--port", str(free_port()), "--data-dir", str(data)],
        cwd=tmp_path, env=feeder.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{data} is in use by another feeder (pid {feeder.proc.pid})" in result.stderr
    status, health = call(feeder.base, "GET", "/health")
    assert status == 200, health  # the first one runs on, unharmed


@pytest.mark.parametrize("env, message", [
    ({"NOMMER_JOBS_PER_ENCODER": "none"}, "setting 'jobs_per_encoder' (environment NOMMER_JOBS_PER_ENCODER): must be a whole number"),
    ({"NOMMER_BACKEND": "cloud"}, "setting 'backend'"),
])
def test_bad_settings_stop_the_start_naming_the_key(tmp_path, env, message):
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("NOMMER_")}
    full.update(env)
    result = subprocess.run([sys.executable, "-m", "nommer.feeder", "--port", str(free_port())],
                            cwd=tmp_path, env=full, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "nommer-data").exists()  # nothing created
