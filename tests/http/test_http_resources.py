"""How a job is shown."""

from nommer.core.jobs import Job, State
from nommer.http.resources import job_resource


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
