"""POST /jobs: what an accepted job looks like."""


def test_a_job_with_a_preset_is_stored_pending(post, source, dest, store):
    answer = post("/jobs", {"source": source, "outputs": [{"destination": dest, "preset": "mp4-h264-720p"}]})

    assert answer.status_code == 201
    job = answer.get_json()
    assert answer.headers["Location"] == f"/jobs/{job['id']}"
    assert job["state"] == "PENDING"
    assert job["source"] == source
    assert job["outputs"] == [{"destination": dest, "preset": "mp4-h264-720p", "state": "PENDING",
                               "error_code": None, "error": None, "result": None}]
    assert (job["progress"], job["phase"], job["phases"]) == (0, None, {"download": 0, "encode": 0, "upload": 0})
    assert job["progress_events"] is False
    assert job["links"] == {"self": f"/jobs/{job['id']}", "cancel": f"/jobs/{job['id']}/cancel", "retry": None}
    assert store.get(job["id"]).outputs == ({"destination": dest, "preset": "mp4-h264-720p", "state": "PENDING"},)


def test_a_job_with_explicit_passes_keeps_them(post, source, dest, store):
    passes = [{"outfile_options": [["c:v", "libx264"], ["crf", 23], ["an", None]], "move_atom_to_front": True}]
    answer = post("/jobs", {"source": source, "outputs": [{"destination": dest, "options": passes}]})

    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["outputs"][0]["options"] == passes
    assert store.get(answer.get_json()["id"]).outputs[0]["options"] == passes


def test_several_outputs_and_a_notify_url(post, source, media, store):
    outputs = [
        {"destination": (media / "a.mp4").as_uri(), "preset": "mp4-h264-480p"},
        {"destination": (media / "b.mp4").as_uri(), "preset": "mp4-h264-720p"},
    ]
    answer = post("/jobs", {"source": source, "outputs": outputs, "notify_url": "https://app.example/hook"})

    assert answer.status_code == 201, answer.get_json()
    job = store.get(answer.get_json()["id"])
    assert [o["destination"] for o in job.outputs] == [o["destination"] for o in outputs]
    assert job.notify_url == "https://app.example/hook"
    assert job.notify_format == "json"


def test_an_http_source_is_accepted(post, dest):
    answer = post("/jobs", {"source": "https://cdn.example/master.mov", "outputs": [{"destination": dest, "preset": "mp4-h264-480p"}]})

    assert answer.status_code == 201, answer.get_json()


def test_credentials_in_uris_are_not_shown(post, dest, store, box):
    body = {
        "source": "https://alice:s3cret@cdn.example/master.mov",
        "outputs": [{"destination": dest, "preset": "mp4-h264-480p"}],
        "notify_url": "https://hook:t0ken@app.example/hook",
    }
    answer = post("/jobs", body)

    assert answer.status_code == 201, answer.get_json()
    assert b"s3cret" not in answer.data and b"t0ken" not in answer.data
    assert answer.get_json()["source"] == "https://alice:***@cdn.example/master.mov"
    stored = store.get(answer.get_json()["id"])
    assert "s3cret" not in repr(stored.to_dict()) and "t0ken" not in repr(stored.to_dict())
    # kept for the encoder, encrypted
    assert box.open(stored.sealed)["source"] == body["source"]
    assert box.open(stored.sealed)["notify_url"] == body["notify_url"]


def test_any_content_type_is_read_as_json(post, source, dest):
    body = {"source": source, "outputs": [{"destination": dest, "preset": "mp4-h264-480p"}]}
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        answer = post("/jobs", body, content_type=content_type)
        assert answer.status_code == 201, (content_type, answer.get_json())


def test_loudness_quality_and_targets_are_kept_and_shown(post, source, dest, store):
    extra = {"loudness": {"target": "atsc-a85", "true_peak": -3}, "quality": ["vmaf", "psnr"],
             "target_vmaf": 92.5, "keep_if_smaller": True}
    answer = post("/jobs", {"source": source, "outputs": [{"destination": dest, "preset": "mp4-h264-720p",
                                                           **extra}]})

    assert answer.status_code == 201, answer.get_json()
    shown = answer.get_json()["outputs"][0]
    assert {k: shown[k] for k in extra} == extra
    assert store.get(answer.get_json()["id"]).outputs[0] == {
        "destination": dest, "preset": "mp4-h264-720p", "state": "PENDING", **extra}
