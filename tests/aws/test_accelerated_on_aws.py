"""An accelerated job in AWS mode (moto's server): the feeder's Scaler
launches three EC2 instances, an encoder process stands in for each, the
source, the scratch files and the output are on S3, the pieces go through
SQS and the job record is DynamoDB's. The pieces spread over the three."""

import subprocess
import sys

from tests.e2e.farm import wait_for
from tests.e2e.feeder import FeederProcess
from tests.e2e.test_accelerated import check_whole, make_source

AMI = "ami-12345678"


def start_encoder(feeder, instance_id, folder):
    folder.mkdir()
    with open(folder / "encoder.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "nommer.encoder", "--instance-id", instance_id],
            env={**feeder.env, "NOMMER_DATA_DIR": str(folder / "data")},
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def test_one_job_spread_over_three_launched_instances(tmp_path, unique, aws_endpoint, bucket, s3_client,
                                                      ffmpeg_exe):
    source = make_source(ffmpeg_exe, tmp_path / "source.mp4")
    s3_client.upload_file(str(source), bucket, "in/source.mp4")
    feeder = FeederProcess(tmp_path, [], backend="aws", cluster=unique, ec2_ami=AMI, min_encoders=3,
                           max_encoders=3, scale_interval=0.5, max_inactivity=60, lease_seconds=20,
                           jobs_per_encoder=1, segment_seconds=1.5, accelerate_min_seconds=5,
                           scratch_uri=f"s3://{bucket}/scratch/")
    feeder.start()
    encoders = {}
    try:
        members = wait_for(lambda: (lambda m: m if len(m) == 3 else None)(feeder.get("/fleet")[1]["members"]),
                           60, "three instance launches")
        for member in members:
            encoders[member["id"]] = start_encoder(feeder, member["id"], tmp_path / member["id"])
        from nommer.core.backends import aws as aws_backend
        from tests.e2e.farm import farm_config

        store = aws_backend.store(farm_config(feeder.env))
        # All three at work before the job, so that each can take pieces.
        wait_for(lambda: len(store.encoders()) == 3, 60, "three encoders' heartbeats")
        status, job = feeder.post("/jobs", {
            "source": f"s3://{bucket}/in/source.mp4", "acceleration": "ENABLED",
            "outputs": [{"destination": f"s3://{bucket}/out/accelerated.mp4", "preset": "mp4-h264-720p"}]})
        assert status == 201, job
        assert job["acceleration"] == "ENABLED"

        done = feeder.wait_job(job["id"], timeout=240)

        logs = "".join((tmp_path / i / "encoder.log").read_text()[-2000:] for i in encoders)
        assert done["state"] == "FINISHED", (done, logs)
        assert done["pieces"] == {"DONE": 10}  # 8 segments, the audio, the stitch
        record = store.get(job["id"])
        assert {p["encoder_id"] for p in record.pieces} == set(encoders)
        s3_client.download_file(bucket, "out/accelerated.mp4", str(tmp_path / "out.mp4"))
        check_whole(ffmpeg_exe, tmp_path / "out.mp4", source, tmp_path)
        # The scratch files went with the job.
        assert s3_client.list_objects_v2(Bucket=bucket, Prefix="scratch/").get("KeyCount", 0) == 0
    finally:
        for proc in encoders.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in encoders.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        assert feeder.stop() == 0, feeder.log()
