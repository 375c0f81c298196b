"""media-nommer's POST /job/submit: its body, its answers, its field names."""

import pytest

FFMPEG_NOMMER = "media_nommer.ec2nommerd.nommers.ffmpeg.FFmpegNommer"

# media-nommer-api-python's presets.video_basic.web_medium(), as its client
# sent it (tuples became JSON arrays).
WEB_MEDIUM = {
    "nommer": FFMPEG_NOMMER,
    "options": [
        {
            "outfile_options": [
                ["threads", 0], ["vcodec", "libx264"], ["preset", "medium"],
                ["profile", "baseline"], ["b", "400k"],
                ["vf", "yadif,scale=640:trunc(ow/a/2)*2"], ["pass", "1"],
                ["f", "mp4"], ["an", None],
            ],
        },
        {
            "outfile_options": [
                ["threads", 0], ["vcodec", "libx264"], ["preset", "medium"],
                ["profile", "baseline"], ["b", "400k"],
                ["vf", "yadif,scale=640:trunc(ow/a/2)*2"], ["pass", "2"],
                ["acodec", "libfaac"], ["ab", "128k"], ["ar", "48000"],
                ["ac", "2"], ["f", "mp4"],
            ],
        },
    ],
}


@pytest.fixture
def legacy_body(source, dest):
    return {"source_path": source, "dest_path": dest, "notify_url": None, "job_options": WEB_MEDIUM}


@pytest.mark.parametrize("path", ["/job/submit", "/job/submit/"])
@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain", "application/json"])
def test_a_two_pass_job_is_accepted(path, content_type, post, legacy_body, store):
    answer = post(path, legacy_body, content_type=content_type)

    assert answer.status_code == 200, answer.get_json()
    reply = answer.get_json()
    assert reply["success"] is True
    job = store.get(reply["job_id"])
    assert job.source == legacy_body["source_path"]
    assert job.outputs == ({"destination": legacy_body["dest_path"], "options": WEB_MEDIUM["options"],
                            "state": "PENDING"},)
    assert job.notify_url is None


def test_the_job_is_visible_in_the_current_api(post, client, legacy_body):
    job_id = post("/job/submit", legacy_body).get_json()["job_id"]

    job = client.get(f"/jobs/{job_id}").get_json()

    assert job["state"] == "PENDING"
    assert len(job["outputs"][0]["options"]) == 2


@pytest.mark.parametrize("nommer", [
    FFMPEG_NOMMER, "media_nommer.core.nommers.ffmpeg.FFmpegNommer",
    "media_nommer.nommers.ffmpeg.FFmpegNommer", "ffmpeg",
])
def test_every_name_of_the_ffmpeg_nommer_is_accepted(nommer, post, legacy_body):
    answer = post("/job/submit", {**legacy_body, "job_options": {**WEB_MEDIUM, "nommer": nommer}})

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["success"] is True


def test_a_notify_url_is_kept_and_told_in_forms_as_media_nommer_did(post, legacy_body, store):
    answer = post("/job/submit", {**legacy_body, "notify_url": "http://app.example/nommer"})

    job = store.get(answer.get_json()["job_id"])
    assert job.notify_url == "http://app.example/nommer"
    assert job.notify_format == "form"


def options_with(pair):
    return {"nommer": FFMPEG_NOMMER, "options": [{"outfile_options": [pair]}]}


# Each case: the change to the good body, and the media-nommer field named.
CASES = {
    "wrong nommer": ({"job_options": {**WEB_MEDIUM, "nommer": "media_nommer.ec2nommerd.nommers.handbrake.HandbrakeNommer"}}, "job_options.nommer"),
    "nommer a number": ({"job_options": {**WEB_MEDIUM, "nommer": 1}}, "job_options.nommer"),
    "missing job_options": ({"job_options": None}, "job_options"),
    "job_options a string": ({"job_options": "web_medium"}, "job_options"),
    "nommer missing": ({"job_options": {"options": WEB_MEDIUM["options"]}}, "job_options.nommer"),
    "nommer empty": ({"job_options": {**WEB_MEDIUM, "nommer": ""}}, "job_options.nommer"),
    "nommer null": ({"job_options": {**WEB_MEDIUM, "nommer": None}}, "job_options.nommer"),
    "job_options empty": ({"job_options": {}}, "job_options.nommer"),
    "options missing": ({"job_options": {"nommer": FFMPEG_NOMMER}}, "job_options.options"),
    "options an object": ({"job_options": {"nommer": FFMPEG_NOMMER, "options": WEB_MEDIUM["options"][0]}}, "job_options.options"),
    "options empty": ({"job_options": {"nommer": FFMPEG_NOMMER, "options": []}}, "job_options.options"),
    "a pass a string": ({"job_options": {"nommer": FFMPEG_NOMMER, "options": ["-vcodec libx264"]}}, "job_options.options[0]"),
    "pairs as an object": ({"job_options": {"nommer": FFMPEG_NOMMER, "options": [{"outfile_options": {"vcodec": "libx264"}}]}}, "job_options.options[0].outfile_options"),
    "a pair a string": ({"job_options": {"nommer": FFMPEG_NOMMER, "options": [{"outfile_options": ["-an"]}]}}, "job_options.options[0].outfile_options[0]"),
    "three passes": ({"job_options": {"nommer": FFMPEG_NOMMER, "options": WEB_MEDIUM["options"] * 2}}, "job_options.options"),
    "unsafe option": ({"job_options": options_with(["vstats_file", "/tmp/x"])}, "job_options.options[0].outfile_options[0]"),
    "unknown job field": ({"priority": "high"}, "priority"),
    "missing source_path": ({"source_path": None}, "source_path"),
    "empty source_path": ({"source_path": ""}, "source_path"),
    "missing dest_path": ({"dest_path": None}, "dest_path"),
    "empty dest_path": ({"dest_path": " "}, "dest_path"),
    "number as source_path": ({"source_path": 12}, "source_path"),
    "source_path outside the roots": ({"source_path": "file:///etc/passwd"}, "source_path"),
    "ftp source_path": ({"source_path": "ftp://files.example/in.mov"}, "source_path"),
    "dest_path over http": ({"dest_path": "http://cdn.example/out.mp4"}, "dest_path"),
    "relative dest_path": ({"dest_path": "out.mp4"}, "dest_path"),
    "bad notify_url": ({"notify_url": "mailto:ops@example.com"}, "notify_url"),
}


# The keys media-nommer refused itself, with this prefix.
REQUIRED = ("source_path", "dest_path", "job_options", "job_options.options", "job_options.nommer")


@pytest.mark.parametrize("case", CASES)
def test_refused_in_media_nommers_words_with_200_as_it_did(case, post, legacy_body, stored_jobs):
    change, field = CASES[case]
    body = {**legacy_body, **change}
    body = {k: v for k, v in body.items() if v is not None or k == "notify_url"}

    # media-nommer's client raises on any status but 2xx and reads "success"
    answer = post("/job/submit", body, content_type="application/x-www-form-urlencoded")

    assert answer.status_code == 200, answer.get_json()
    reply = answer.get_json()
    assert reply["success"] is False
    assert "job_id" not in reply
    assert reply["error_code"]
    assert reply["field"] == field
    expected = f"Missing/invalid required key+val: {field}: " if field in REQUIRED else f"{field}: "
    assert reply["message"].startswith(expected), reply["message"]
    assert len(reply["message"]) > len(expected)  # nommer's reason follows the field
    assert "outputs" not in reply["message"]
    assert stored_jobs() == 0


@pytest.mark.parametrize("body", [b"", b"job_options=web_medium", b"[]"])
def test_a_body_that_is_not_a_json_object_is_refused(body, post, stored_jobs):
    answer = post("/job/submit/", body, content_type="application/x-www-form-urlencoded")

    assert answer.status_code == 400
    assert answer.get_json()["success"] is False
    assert answer.get_json()["message"].startswith("body: ")
    assert stored_jobs() == 0


def test_a_huge_body_is_refused_in_media_nommers_words(app, post, legacy_body, stored_jobs):
    body = {**legacy_body, "notify_url": "http://app.example/" + "x" * app.config["MAX_CONTENT_LENGTH"]}

    answer = post("/job/submit", body)

    assert answer.status_code == 413
    assert answer.get_json()["success"] is False
    assert answer.get_json()["field"] == "body"
    assert stored_jobs() == 0


def test_get_is_not_allowed(client):
    answer = client.get("/job/submit/")

    assert answer.status_code == 405
    assert "POST" in answer.get_json()["error"]["message"]
