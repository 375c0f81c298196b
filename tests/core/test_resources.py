"""How a job is shown."""

import dataclasses

from nommer.core.model import results
from nommer.core.model.jobs import Job, State
from nommer.core.model.resources import job_resource
from tests.core.long_outputs import hls_ladder_upload


def test_credentials_are_redacted_everywhere():
    job = Job.new(
        "s3://AKIAKEY:SECRET/KEY@bucket/in.mov",
        [{"destination": "s3://AKIAKEY:SECRET/KEY@bucket/out.mp4", "preset": "mp4-h264-480p"}],
        notify_url="https://user:pass@app.example/hook",
    )

    shown = job_resource(job)

    assert "SECRET" not in repr(shown) and "pass@" not in repr(shown)
    assert "AKIAKEY" not in repr(shown)  # the access key id of an s3 URI goes too
    assert shown["source"] == "s3://***:***@bucket/in.mov"
    assert shown["outputs"][0]["destination"] == "s3://***:***@bucket/out.mp4"
    assert shown["notify_url"] == "https://user:***@app.example/hook"


def test_output_results_and_the_final_state_are_shown():
    job = Job.new("file:///m/in.mov", [{"destination": "file:///m/out.mp4", "options": [{}]}])
    job = job.transition(State.ERROR, details="ffmpeg said no", error_code="ENCODE_FAILED", outputs=[
        {"destination": "file:///m/out.mp4", "options": [{}], "state": "ERROR", "error_code": "ENCODE_FAILED",
         "error": "ffmpeg said no", "result": None}])

    shown = job_resource(job)

    assert shown["state"] == "ERROR"
    assert shown["details"] == "ffmpeg said no"
    assert shown["outputs"] == [{"destination": "file:///m/out.mp4", "options": [{}], "state": "ERROR",
                                 "error_code": "ENCODE_FAILED", "error": "ffmpeg said no", "result": None}]
    assert shown["error_code"] == "ENCODE_FAILED" and shown["phase"] is None
    assert shown["finished_at"] and shown["links"]["cancel"] is None


def finished_job(destination, facts, files, folder=True):
    job = Job.new("file:///m/in.mov", [{"destination": destination, "preset": "hls-h264-ladder"}])
    made = results.summary(facts, files, folder=folder)
    return dataclasses.replace(job, state=State.FINISHED, outputs=(
        {"destination": destination, "preset": "hls-h264-ladder", "state": "FINISHED", "result": made},))


def test_a_result_is_shown_with_uris_under_the_destination_credentials_hidden():
    destination = "s3://AKIAKEY:SECRET/KEY@bucket/hls/"
    facts = results.ladder_facts(
        [{"name": "360p", "playlist": "360p.m3u8", "duration": 6.0, "width": 640, "height": 360, "bitrate": 9}],
        {"360p.m3u8": [("360p_00000.ts", 6.0)]}, {"360p_00000.ts": 7, "360p.m3u8": 2, "master.m3u8": 1})
    files = [("360p_00000.ts", 7), ("360p.m3u8", 2), ("master.m3u8", 1)]

    result = job_resource(finished_job(destination, facts, files))["outputs"][0]["result"]

    base = "s3://***:***@bucket/hls/"
    assert result["files"] == [base + "360p_00000.ts", base + "360p.m3u8", base + "master.m3u8"]
    assert result["playlist"] == base + "master.m3u8" and result["manifest"] == base + results.MANIFEST
    assert result["renditions"] == [{"name": "360p", "playlist": base + "360p.m3u8", "segments": 1,
                                     "duration": 6.0, "width": 640, "height": 360, "bitrate": 9}]
    assert (result["file_count"], result["size"]) == (3, 10)
    assert "SECRET" not in repr(result) and "AKIAKEY" not in repr(result)


def test_every_field_of_a_shown_result_is_in_the_openapi_schema():
    from nommer.http.openapi import RESULT_SCHEMA

    facts, stored = hls_ladder_upload("file:///m/hls/", hours=0.01)
    files = [(uri[len("file:///m/hls/"):], size) for uri, size in stored]
    images = {"size": 2, "count": 2, "duration": None, "width": 1, "height": 1, "bitrate": None}
    shown = [
        job_resource(finished_job("file:///m/hls/", facts, files))["outputs"][0]["result"],
        job_resource(finished_job("file:///m/th/", images, [("a.jpg", 1), ("b.jpg", 1)]))["outputs"][0]["result"],
        job_resource(finished_job("file:///m/o.mp4", {"size": 1}, [("", 1)], folder=False))["outputs"][0]["result"],
    ]

    properties = RESULT_SCHEMA["properties"]
    assert set().union(*shown) <= set(properties)
    assert set(shown[0]["renditions"][0]) <= set(properties["renditions"]["items"]["properties"])
    assert {"files", "first", "manifest", "playlist", "file_count"} <= set().union(*shown)
