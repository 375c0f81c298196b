"""media-nommer's own client and receivers, unchanged, against a real feeder
process: the client posts JSON under urllib2's form Content-Type with no
Authorization header (the feeder has tokens, and lets the legacy route in
from legacy_networks), raises on any status but 2xx and reads ``success``;
its receiver reads form-encoded notifications of the changes after the
submission, with empty details on success and the error on ERROR."""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from nommer.testing.media import make_clip
from nommer.testing.receiver import Receiver

from .farm import wait_for
from .feeder import FeederProcess, call

TOKEN = "legacy-client-token-0123456789"
FFMPEG_NOMMER = "media_nommer.ec2nommerd.nommers.ffmpeg.FFmpegNommer"


def job_submit(host, source_path, dest_path, job_options, notify_url=None):
    """media-nommer-api-python's ``job_submit``, as it talked to feederd:
    empty arguments refused by the client itself, then the JSON body posted
    to ``<host>/job/submit`` the way urllib2 posts data (form Content-Type,
    its User-Agent, no Authorization). A non-2xx answer raises HTTPError."""
    for name, value in (("source_path", source_path), ("dest_path", dest_path),
                        ("job_options", job_options)):
        if not value:
            raise ValueError(f"{name} is required")
    data = {"source_path": source_path, "dest_path": dest_path,
            "notify_url": notify_url, "job_options": job_options}
    request = urllib.request.Request(
        f"{host}/job/submit", json.dumps(data).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Python-urllib/2.7"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    assert "success" in answer, answer  # the client reads it; it must be there
    return answer


def cb_low(**changes):
    """media-nommer-api-python's video_cb.cb_low (two-pass libx264 at 230k,
    libfaac, faststart), made small, asking baseline through -vpre and
    deinterlacing as 2011's ffmpeg did."""
    first = [["vcodec", "libx264"], ["vpre", "veryfast_firstpass"], ["vpre", "baseline"], ["b", "230k"],
             ["bufsize", "230k"], ["deinterlace", None], ["vf", "scale='160:trunc(ow/a/2)*2'"],
             ["pass", "1"], ["f", "mp4"], ["keyint_min", "60"], ["g", "120"], ["an", None]]
    second = [["vcodec", "libx264"], ["vpre", "veryfast"], ["vpre", "baseline"], ["b", "230k"],
              ["bufsize", "230k"], ["deinterlace", None], ["vf", "scale='160:trunc(ow/a/2)*2'"],
              ["pass", "2"], ["acodec", "libfaac"], ["ab", "96k"], ["async", "480"],
              ["keyint_min", "60"], ["g", "120"], ["f", "mp4"]]
    return {"nommer": FFMPEG_NOMMER,
            "options": [{"outfile_options": first},
                        {"outfile_options": second, "move_atom_to_front": True}],
            **changes}


@pytest.fixture(scope="module")
def media(tmp_path_factory, ffmpeg_exe):
    folder = tmp_path_factory.mktemp("media")
    make_clip(ffmpeg_exe, folder / "clip.mov", seconds=1.0, size="320x240")
    (folder / "broken.mov").write_bytes(bytes(range(256)) * 64)  # not media ffmpeg can read
    return folder


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def feeder(tmp_path_factory, media):
    workdir = tmp_path_factory.mktemp("feeder")
    f = FeederProcess(workdir, [media], token=TOKEN, legacy_networks="127.0.0.1/32",
                      max_inactivity=4, max_encoders=1).start()
    yield f
    assert f.stop() == 0, f.log()


def forms(receiver, tag):
    """The form notifications the receiver got at ``?job=tag``, parsed."""
    found = []
    for post in list(receiver.posts):
        if post["path"].endswith(f"?job={tag}"):
            assert post["type"] == "application/x-www-form-urlencoded", post
            found.append(dict(urllib.parse.parse_qsl(post["text"], keep_blank_values=True)))
    return found


def test_a_cb_low_job_finishes_baseline_and_is_told_as_media_nommer_told_it(
        feeder, receiver, media, probe_media):
    out = media / "out" / "cb_low.mp4"
    answer = job_submit(feeder.base, (media / "clip.mov").as_uri(), out.as_uri(), cb_low(),
                        notify_url=receiver.url + "?job=ok")
    assert answer["success"] is True, answer
    job_id = answer["job_id"]

    wait_for(lambda: any(f["job_state"] in ("FINISHED", "ERROR") for f in forms(receiver, "ok")),
             120, "the last notification")
    told = forms(receiver, "ok")

    # each change after the submission, once here (the receiver answered
    # 204, so nothing was retried), never PENDING
    assert [f["job_state"] for f in told] == ["DOWNLOADING", "ENCODING", "UPLOADING", "FINISHED"]
    for form in told:
        assert set(form) == {"unique_id", "job_state", "job_state_details"}
        assert form["unique_id"] == job_id
    assert told[-1]["job_state_details"] == ""
    # nommer's notes stay on the job
    status, job = feeder.get(f"/jobs/{job_id}")
    assert status == 200 and job["state"] == "FINISHED"
    assert "option -vpre baseline is now -profile:v baseline" in job["notes"]
    assert "option -deinterlace is now the yadif filter, first in -vf" in job["notes"]
    assert job["details"] == ""
    video = probe_media(out)["streams"][0]
    assert (video["codec"], video["width"]) == ("h264", 160)
    assert video["profile"] in ("Constrained Baseline", "Baseline")


def test_a_job_that_fails_is_told_error_with_the_reason(feeder, receiver, media):
    answer = job_submit(feeder.base, (media / "broken.mov").as_uri(), (media / "out" / "x.mp4").as_uri(),
                        cb_low(), notify_url=receiver.url + "?job=bad")
    assert answer["success"] is True, answer

    wait_for(lambda: any(f["job_state"] == "ERROR" for f in forms(receiver, "bad")), 120, "the ERROR")
    told = forms(receiver, "bad")

    states = [f["job_state"] for f in told]
    assert "PENDING" not in states and states[0] == "DOWNLOADING" and states[-1] == "ERROR"
    assert "not a media file ffmpeg can read" in told[-1]["job_state_details"]


@pytest.mark.parametrize("job_options, field", [
    ({"options": cb_low()["options"]}, "job_options.nommer"),
    (cb_low(nommer="media_nommer.ec2nommerd.nommers.handbrake.HandbrakeNommer"), "job_options.nommer"),
    (cb_low(options=[]), "job_options.options"),
    (cb_low(options=[{"outfile_options": [["vcodec", "libx264"], ["sameq", None]]}]),
     "job_options.options[0].outfile_options[1]"),
    (cb_low(options=[{"outfile_options": [["vpre", "libvpx-720p"]]}]),
     "job_options.options[0].outfile_options[0]"),
])
def test_a_refusal_reaches_the_client_as_success_false_and_creates_nothing(feeder, media, job_options, field):
    before = feeder.get("/jobs?limit=1000")[1]["jobs"]

    answer = job_submit(feeder.base, (media / "clip.mov").as_uri(), (media / "out" / "r.mp4").as_uri(),
                        job_options)

    assert answer["success"] is False
    assert answer["field"] == field and field in answer["message"]
    assert feeder.get("/jobs?limit=1000")[1]["jobs"] == before


def test_an_empty_source_path_is_refused_in_media_nommers_words(feeder, media):
    # the client refuses "" itself; a hand-made request gets feederd's answer
    status, answer = call(feeder.base, "POST", "/job/submit", raw=json.dumps({
        "source_path": "", "dest_path": (media / "out" / "e.mp4").as_uri(), "notify_url": None,
        "job_options": cb_low()}).encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert status == 200
    assert answer["success"] is False
    assert answer["message"].startswith("Missing/invalid required key+val: source_path")


def test_the_legacy_networks_open_nothing_else_without_the_token(feeder):
    assert call(feeder.base, "GET", "/jobs")[0] == 401
    with pytest.raises(urllib.error.HTTPError) as e:  # the client's call to another route
        urllib.request.urlopen(urllib.request.Request(f"{feeder.base}/jobs", b"{}"), timeout=10)
    assert e.value.code == 401
    assert feeder.get("/jobs")[0] == 200  # with the token
