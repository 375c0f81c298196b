"""How a job is shown."""

from nommer.core.jobs import Job, State
from nommer.http.resources import job_resource


def test_credentials_are_redacted_everywhere():
    job = Job.new(
        "s3://AKIAKEY:SECRETKEY@bucket/in.mov",
        [{"destination": "s3://AKIAKEY:SECRETKEY@bucket/out.mp4", "preset": "mp4-h264-480p"}],
        notify_url="https://user:pass@app.example/hook",
    )

    shown = job_resource(job)

    assert "SECRETKEY" not in repr(shown) and "pass@" not in repr(shown)
    assert shown["source"] == "s3://AKIAKEY:***@bucket/in.mov"
    assert shown["outputs"][0]["destination"] == "s3://AKIAKEY:***@bucket/out.mp4"
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
