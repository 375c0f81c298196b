"""A four-rendition MP4 ladder as one job against four jobs: a 10 s 1080p
source made into 1080p, 720p, 480p and 360p MP4s, first as one job of four
outputs (one download, one decode, one ffmpeg run), then as four jobs of one
output each, submitted together, through the same feeder in the same run.
Each round is timed from the first POST /jobs to the last FINISHED webhook."""

import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import common  # noqa: E402
from nommer.core.config import load  # noqa: E402
from nommer.testing.media import make_clip  # noqa: E402

LADDER = ("mp4-h264-1080p", "mp4-h264-720p", "mp4-h264-480p", "mp4-h264-360p")
# The farm's defaults on a 2-core machine: one encoder, two jobs at a time.
FARM = {"min_encoders": 1, "max_encoders": 1, "jobs_per_encoder": 2, "max_inactivity": 600}


def _submit(client, hooks, source, outputs):
    status, job = client.call("POST", "/jobs", {"source": f"file://{source}", "outputs": outputs,
                                                "notify_url": hooks.url})
    assert status == 201, job
    return job["id"]


def _round(client, hooks, source, media, tag, together):
    outputs = [{"destination": f"file://{media}/{tag}-{preset}.mp4", "preset": preset} for preset in LADDER]
    started = time.monotonic()
    if together:
        ids = [_submit(client, hooks, source, outputs)]
    else:
        ids = [_submit(client, hooks, source, [output]) for output in outputs]
    ends = []
    for job_id in ids:
        ended, state = hooks.wait(job_id)
        assert state == "FINISHED", client.call("GET", f"/jobs/{job_id}")
        ends.append(ended)
    return max(ends) - started


def main(rounds=3):
    exe = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-media-") as tmp:
        media = pathlib.Path(tmp)
        source = make_clip(exe, media / "source.mp4", seconds=10, size="1920x1080")
        one_job, four_jobs = [], []
        with common.feeder([media], **FARM) as (port, _):
            client = common.Client(port)
            hooks = common.Hooks()
            time.sleep(2)  # the kept encoder is up and idle
            # Alternated, so that a busy moment of the machine hits both.
            for n in range(rounds):
                one_job.append(_round(client, hooks, source, media, f"one-{n}", together=True))
                four_jobs.append(_round(client, hooks, source, media, f"four-{n}", together=False))
            hooks.close()
    one, four = min(one_job), min(four_jobs)
    return {"one_job_s": one, "four_jobs_s": four, "ratio": one / four, "rounds": rounds,
            "one_all": one_job, "four_all": four_jobs, "farm": FARM}


if __name__ == "__main__":
    r = main()
    print(f"one job of 4 outputs {r['one_job_s']:.2f} s, 4 jobs of 1 output {r['four_jobs_s']:.2f} s, "
          f"ratio {r['ratio']:.3f} (best of {r['rounds']}; all: {r['one_all']} / {r['four_all']})")
