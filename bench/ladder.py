"""A four-rendition MP4 ladder as one job against four jobs: a 10 s 1080p
source made into 1080p, 720p, 480p and 360p MP4s, first as one job of four
outputs (one download, one decode, one ffmpeg run), then as four jobs of one
output each, submitted together, through the same feeder in the same run.
Each round is timed from the first POST /jobs to the last FINISHED webhook."""

import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import common  # noqa: E402
from nommer.core.config import load  # noqa: E402
from nommer.testing.media import make_clip  # noqa: E402

LADDER = ("mp4-h264-1080p", "mp4-h264-720p", "mp4-h264-480p", "mp4-h264-360p")


def _submit(client, hooks, source, outputs):
    status, job = client.call("POST", "/jobs", {"source": f"file://{source}", "outputs": outputs,
                                                "notify_url": hooks.url})
    assert status == 201, job
    return job["id"]


def farm_cpu_seconds(data_dir):
    """CPU seconds used so far by the farm's encoder processes and the ffmpeg
    runs they waited for. On a shared machine wall time depends on what else
    runs; CPU time says what the work itself cost."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
            env = open(f"/proc/{pid}/environ", "rb").read()
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"nommer.encoder" in cmd and f"NOMMER_DATA_DIR={data_dir}".encode() in env:
            # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name
            total += sum(int(x) for x in fields[11:15]) / tick
    return total


def _round(client, hooks, source, media, tag, together, data_dir):
    outputs = [{"destination": f"file://{media}/{tag}-{preset}.mp4", "preset": preset} for preset in LADDER]
    cpu = farm_cpu_seconds(data_dir)
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
    wall = max(ends) - started
    time.sleep(0.5)  # the encoder reaps its last ffmpeg
    return wall, farm_cpu_seconds(data_dir) - cpu


def main(rounds=3, jobs_per_encoder=1):
    """One encoder kept running; ``jobs_per_encoder`` 1 gives each job the
    machine to itself, 2 (the default setting) lets two jobs share it."""
    farm = {"min_encoders": 1, "max_encoders": 1, "jobs_per_encoder": jobs_per_encoder,
            "max_inactivity": 600}
    exe = load(environ={}).ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="nommer-bench-media-") as tmp:
        media = pathlib.Path(tmp)
        source = make_clip(exe, media / "source.mp4", seconds=10, size="1920x1080")
        one_job, four_jobs = [], []
        with common.feeder([media], **farm) as (port, workdir):
            data_dir = workdir / "data"
            client = common.Client(port)
            hooks = common.Hooks()
            time.sleep(2)  # the kept encoder is up and idle
            # Alternated, so that a busy moment of the machine hits both.
            for n in range(rounds):
                one_job.append(_round(client, hooks, source, media, f"one-{n}", True, data_dir))
                four_jobs.append(_round(client, hooks, source, media, f"four-{n}", False, data_dir))
            hooks.close()
    one, four = min(w for w, _ in one_job), min(w for w, _ in four_jobs)
    one_cpu, four_cpu = min(c for _, c in one_job), min(c for _, c in four_jobs)
    return {"one_job_s": one, "four_jobs_s": four, "ratio": one / four, "rounds": rounds,
            "one_cpu_s": one_cpu, "four_cpu_s": four_cpu, "cpu_ratio": one_cpu / four_cpu,
            "one_all": one_job, "four_all": four_jobs, "jobs_per_encoder": jobs_per_encoder}


if __name__ == "__main__":
    r = main(jobs_per_encoder=int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    print(f"jobs_per_encoder={r['jobs_per_encoder']}: one job of 4 outputs {r['one_job_s']:.2f} s "
          f"({r['one_cpu_s']:.1f} CPU s), 4 jobs of 1 output {r['four_jobs_s']:.2f} s ({r['four_cpu_s']:.1f} CPU s); "
          f"ratio {r['ratio']:.3f}, CPU ratio {r['cpu_ratio']:.3f} (best of {r['rounds']})")
    print("rounds (wall s, CPU s):", r["one_all"], r["four_all"])
