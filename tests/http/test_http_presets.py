"""GET /presets, and jobs whose outputs are folders (HLS, thumbnails)."""

from nommer.core.ffmpeg import PRESETS


def test_presets_lists_every_built_in_preset_with_its_kind(client):
    answer = client.get("/presets")

    assert answer.status_code == 200
    listed = {p["name"]: p for p in answer.get_json()["presets"]}
    assert set(listed) == set(PRESETS)
    assert listed["hls-h264-ladder"]["kind"] == "hls"
    assert listed["thumbnails-jpeg"] == {**listed["thumbnails-jpeg"], "kind": "images", "options": ["interval"]}
    assert listed["m4a-aac"]["needs_video"] is False and listed["m4a-aac"]["extension"] == "m4a"
    assert listed["mp4-h265-1080p"]["kind"] == "file"
    assert all(p["description"] and p["origin"] == "built-in" for p in listed.values())


def test_folder_outputs_and_their_options_are_stored(post, source, media, store):
    outputs = [
        {"destination": media.as_uri() + "/hls/", "preset": "hls-h264-ladder"},
        {"destination": media.as_uri() + "/thumbs/", "preset": "thumbnails-jpeg", "interval": 2.5},
        {"destination": (media / "poster.jpg").as_uri(), "preset": "poster-jpeg"},
    ]
    answer = post("/jobs", {"source": source, "outputs": outputs, "notify_url": "https://app.example/h",
                            "progress_events": True})

    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["outputs"][1]["interval"] == 2.5
    job = store.get(answer.get_json()["id"])
    assert [{k: o[k] for k in o if k != "state"} for o in job.outputs] == outputs
    assert job.progress_events is True
