"""The codec parameter attack against real processes: x264's dump_yuv with an
escaped absolute path is refused by the feeder with a 400 naming the option
and the key, and a record that reaches a real encoder past the feeder ends in
ERROR. Nothing is written outside the job's folder, anywhere."""

import signal

import pytest

from nommer.core.model.jobs import State
from nommer.testing.media import make_clip

from .farm import farm_env, open_parts, place_job, start_encoder, wait_final
from .feeder import FeederProcess


def attack(target):
    """The outfile_options of the attack: raw frames of the encode to ``target``."""
    return [["c:v", "libx264"], ["pix_fmt", "yuv420p"], ["x264-params", "qp=0:dump_yuv=\\" + str(target)]]


@pytest.fixture(scope="module")
def places(tmp_path_factory, ffmpeg_exe):
    root = tmp_path_factory.mktemp("options")
    media = root / "media"
    media.mkdir()
    make_clip(ffmpeg_exe, media / "clip.mp4", seconds=0.5, size="160x120")
    return {"root": root, "media": media, "outside": root / "outside"}


@pytest.fixture(scope="module")
def feeder(places):
    # No encoder: an accepted job would wait in PENDING, where it is counted.
    f = FeederProcess(places["root"] / "feeder", [places["media"]], autoscale=False, min_encoders=0)
    (places["root"] / "feeder").mkdir()
    f.start()
    yield f
    assert f.stop() == 0, f.log()


def test_the_attack_is_refused_at_submit_and_nothing_is_written(feeder, places):
    target = places["root"] / "feeder" / "data" / "zz.pth"  # nommer's own data folder
    out = places["media"] / "attack.mp4"
    status, body = feeder.post("/jobs", {
        "source": (places["media"] / "clip.mp4").as_uri(),
        "outputs": [{"destination": out.as_uri(), "options": [{"outfile_options": attack(target)}]}],
    })

    assert status == 400, body
    assert body["error"]["field"] == "outputs[0].options[0].outfile_options[2]"
    assert "-x264-params" in body["error"]["message"] and "'dump_yuv'" in body["error"]["message"]
    assert feeder.get("/jobs")[1]["jobs"] == []
    assert not target.exists() and not out.exists()
    assert list(places["root"].rglob("zz.pth")) == []


def test_past_the_feeder_a_real_encoder_refuses_it_too(places):
    # place_job writes the store directly, as a tampered record would.
    target = places["outside"] / "zz.pth"
    places["outside"].mkdir()
    env = farm_env(places["root"] / "data", [places["media"]])
    parts = open_parts(env)
    proc = start_encoder(env, "enc-options", places["root"] / "encoder.log")
    try:
        out = places["media"] / "tampered.mp4"
        job = place_job(parts, (places["media"] / "clip.mp4").as_uri(),
                        [{"destination": out.as_uri(), "options": [{"outfile_options": attack(target)}]}])

        done = wait_final(parts.store, job.id)

        assert done.state == State.ERROR
        assert "dump_yuv" in done.details
        assert not target.exists() and not out.exists()
        assert list(places["outside"].iterdir()) == []
        assert list(places["root"].rglob("zz.pth")) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            parts.close()
