"""One accelerated job shared by three encoder processes on the embedded
backends: the pieces spread over them, an HLS ladder's renditions too; an
encoder killed (SIGKILL) while it holds a segment costs that segment alone;
a job canceled mid-way stops its pieces everywhere and leaves no scratch
files."""

import signal
import time

import pytest

from nommer.core.errors import StaleWrite
from nommer.core.ffmpeg import verify
from nommer.core.model import pieces
from nommer.core.model.jobs import State

from .farm import farm_env, ffmpeg_processes_in, open_parts, place_job, start_encoder, uri, wait_final, wait_for
from .test_accelerated import RATE, check_whole, make_source, scan_of

SECONDS = 12


@pytest.fixture(scope="module")
def farm(tmp_path_factory, ffmpeg_exe):
    root = tmp_path_factory.mktemp("accel-farm")
    media = root / "media"
    media.mkdir()
    # One slot each, so that every encoder takes pieces, and an encoder
    # killed holds one; a short lease, so that its piece comes back soon.
    env = farm_env(root / "data", [media], jobs_per_encoder=1, max_encoders=3, segment_seconds=1.5,
                   accelerate_min_seconds=5, lease_seconds=3)
    source = make_source(ffmpeg_exe, media / "source.mp4", seconds=SECONDS, gop=RATE // 2)
    encoders = {}

    def spawn():
        name = f"enc-{len(encoders) + 1}"
        encoders[name] = start_encoder(env, name, root / f"{name}.log")

    for _ in range(3):
        spawn()
    parts = open_parts(env)
    # All three at work before the first job, so that each can take pieces.
    wait_for(lambda: len(parts.store.encoders()) == 3, 60, "three encoders' heartbeats")
    yield {"env": env, "parts": parts, "media": media, "source": source, "encoders": encoders,
           "spawn": spawn, "root": root}
    for proc in encoders.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in encoders.values():
        try:
            proc.wait(30)
        except Exception:
            proc.kill()
    parts.close()


def submit(farm, name, preset="mp4-h264-720p"):
    out = farm["media"] / name
    job = place_job(farm["parts"], uri(farm["source"]), [{"destination": uri(out), "preset": preset}],
                    acceleration="ENABLED")
    return job, out


def piece_where(store, job_id, test, what):
    def look():
        job = store.get(job_id)
        return next((p for p in job.pieces if test(p)), None) or (job if job.is_final else None)
    return wait_for(look, 120, what, step=0.02)


def test_three_encoders_share_the_pieces_of_one_job(farm, ffmpeg_exe, tmp_path):
    job, out = submit(farm, "shared.mp4")
    done = wait_final(farm["parts"].store, job.id, timeout=240)

    assert done.state == State.FINISHED, done.details
    segs = [p for p in done.pieces if p["kind"] == pieces.SEGMENT]
    assert len(segs) == 8
    takers = {p["encoder_id"] for p in done.pieces}
    assert takers == set(farm["encoders"]), takers
    assert all(p["attempt"] == 1 for p in done.pieces)
    check_whole(ffmpeg_exe, out, farm["source"], tmp_path)
    assert not (farm["root"] / "data" / "scratch" / job.id).exists()


def test_an_hls_ladders_renditions_are_made_apart_on_hls_segment_boundaries(farm, ffmpeg_exe, tmp_path):
    # 480p: a ladder of two renditions (480p, 360p).
    src = make_source(ffmpeg_exe, farm["media"] / "hls-source.mp4", seconds=13, gop=RATE, size="640x480")
    out = farm["media"] / "ladder"
    # Not asked: the farm's setting, PREFERRED by default.
    job = place_job(farm["parts"], uri(src), [{"destination": uri(out) + "/", "preset": "hls-h264-ladder"}])
    done = wait_final(farm["parts"].store, job.id, timeout=240)

    assert done.state == State.FINISHED, done.details
    assert done.acceleration is None
    segs = [p for p in done.pieces if p["kind"] == pieces.SEGMENT]
    # Each rendition cut on whole HLS segments of 6 s, into pieces of its own.
    assert [p["id"] for p in segs] == [f"o0-r{r}-s000{n}" for r in (0, 1) for n in range(3)]
    assert [round(p["start"], 3) for p in segs] == [0.0, 6.0, 12.0] * 2
    assert all(p["state"] == pieces.DONE and p["attempt"] == 1 for p in done.pieces)
    assert len({p["encoder_id"] for p in segs}) > 1, [(p["id"], p["encoder_id"]) for p in segs]
    # The 480p rendition's pieces are predicted to take longer than the 360p one's.
    assert segs[0]["weight"] > segs[3]["weight"] and segs[0]["segment"] == segs[3]["segment"]
    assert any("each rendition of a ladder its own" in n for n in done.notes), done.notes
    master = (out / "master.m3u8").read_text()
    variants = sorted(p.name for p in out.glob("*.m3u8") if p.name != "master.m3u8")
    assert variants == ["360p.m3u8", "480p.m3u8"] and all(v in master for v in variants)
    scan = scan_of(ffmpeg_exe, src, tmp_path / "scan")
    for name in variants:
        playlist = out / name
        measured = verify.check(ffmpeg_exe, playlist, scan, tmp_path / "check", tag=playlist.stem)
        assert measured.frames == 13 * RATE
        # The HLS muxer cut the joined renditions where a normal encode does.
        durations = [float(line[len("#EXTINF:"):].rstrip(",")) for line in playlist.read_text().splitlines()
                     if line.startswith("#EXTINF:")]
        assert durations == pytest.approx([6.0, 6.0, 1.0], abs=0.05)
    assert not (farm["root"] / "data" / "scratch" / job.id).exists()


def kill_holding_a_segment(farm, name):
    """Submit a job and SIGKILL an encoder while it holds one of its
    segments (after another is done); (job, output, the piece as held).
    On a busy machine the segment may be done before the signal lands:
    then it is tried again with a new job."""
    store = farm["parts"].store
    for _ in range(3):
        job, out = submit(farm, name)
        held = piece_where(store, job.id, lambda p: (
            p["kind"] == pieces.SEGMENT and p["state"] == pieces.RUNNING and p["progress"] < 50
            and any(q["state"] == pieces.DONE for q in store.get(job.id).pieces)), "a segment at work")
        assert isinstance(held, dict), "the job ended before a segment could be caught at work"
        victim = farm["encoders"][held["encoder_id"]]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        farm["spawn"]()  # the fleet would start another; so do we
        if pieces.find(store.get(job.id).pieces, held["id"])["state"] != pieces.DONE:
            return job, out, held
        wait_final(store, job.id, timeout=240)
    raise AssertionError("three segments were done before their encoder could be killed")


def test_an_encoder_killed_holding_a_segment_costs_that_segment_alone(farm, ffmpeg_exe, tmp_path):
    store = farm["parts"].store
    job, out, held = kill_holding_a_segment(farm, "after-kill.mp4")

    done = wait_final(store, job.id, timeout=240)

    assert done.state == State.FINISHED, done.details
    again = [p for p in done.pieces if p["attempt"] > 1]
    assert [p["id"] for p in again] == [held["id"]], [(p["id"], p["attempt"]) for p in done.pieces]
    assert again[0]["attempt"] == 2 and again[0]["encoder_id"] != held["encoder_id"]
    check_whole(ffmpeg_exe, out, farm["source"], tmp_path)
    workdir_glob = list((farm["root"] / "data" / "work").glob(f"{job.id}[-_]*"))
    wait_for(lambda: not any(ffmpeg_processes_in(w) for w in workdir_glob), 10, "no orphan ffmpeg")


def cancel(store, job_id):
    for _ in range(20):
        job = store.get(job_id)
        try:
            return store.update(job.transition(State.CANCELED, details="canceled by request"))
        except StaleWrite:
            continue
    raise AssertionError("could not cancel")


def test_a_job_canceled_mid_way_stops_its_pieces_and_leaves_no_scratch(farm):
    store, queue = farm["parts"].store, farm["parts"].new_jobs
    job, out = submit(farm, "canceled.mp4")
    piece_where(store, job.id, lambda p: p["state"] == pieces.DONE and any(
        q["state"] == pieces.RUNNING for q in store.get(job.id).pieces), "some pieces done, some at work")

    canceled = cancel(store, job.id)

    assert canceled.state == State.CANCELED
    scratch = farm["root"] / "data" / "scratch" / job.id
    wait_for(lambda: not scratch.exists(), 30, "the job's scratch files to go")
    work = farm["root"] / "data" / "work"
    wait_for(lambda: not list(work.glob(f"{job.id}[-_]*")), 30, "the pieces' work folders to go")
    wait_for(lambda: queue.depth() == (0, 0), 30, "the pieces' messages to go")
    time.sleep(1)  # nothing comes back to life
    assert store.get(job.id).state == State.CANCELED
    assert not out.exists()
    assert not scratch.exists()
