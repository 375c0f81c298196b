"""How the nommer command writes a job for people."""

from nommer.cli.render import job_summary


def test_a_result_gives_its_file_count_and_manifest_when_its_files_are_not_listed():
    job = {"id": "0123456789abcdef0123", "state": "FINISHED", "progress": 100, "source": "file:///m/in.mov",
           "outputs": [
               {"preset": "hls-h264-ladder", "destination": "s3://b/hls/", "state": "FINISHED",
                "result": {"size": 9000, "file_count": 7205, "width": 1920, "height": 1080, "duration": 10800.0,
                           "manifest": "s3://b/hls/nommer-manifest.json"}},
               {"preset": "mp4-h264-360p", "destination": "s3://b/o.mp4", "state": "FINISHED",
                "result": {"size": 10, "files": ["s3://b/o.mp4"]}},
           ]}

    lines = job_summary(job)

    assert "    7205 file(s), 9000 bytes, 1920x1080, 10800 s" in lines
    assert "    manifest: s3://b/hls/nommer-manifest.json" in lines
    assert "    1 file(s), 10 bytes" in lines
    assert sum("manifest" in line for line in lines) == 1
