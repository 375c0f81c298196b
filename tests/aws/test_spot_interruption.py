"""A spot interruption on the AWS farm: a real feeder process (its Scaler
launching spot instances on moto's EC2), an encoder process standing in for
the instance's encoder, its metadata service the loopback stand-in
(tests/aws/imds_server.py), which announces EC2's two-minute notice while the
encoder encodes. Nothing is lost: the encoder hands the job back at once, not
counted as an attempt, ends its instance; the Scaler launches the capacity
again and the job finishes on the second encoder."""

import json
import subprocess
import sys
import time

import pytest

from tests.aws.imds_server import ImdsServer
from tests.e2e.farm import wait_for
from tests.e2e.feeder import FeederProcess

AMI = "ami-12345678"
SLOW = "webm-vp9-720p"
HAND_BACK_LIMIT = 10.0  # seconds from EC2's notice to the job back in the queue


@pytest.fixture
def feeder(tmp_path, unique, aws_endpoint):
    feeder = FeederProcess(tmp_path, [], backend="aws", cluster=unique, ec2_ami=AMI, ec2_spot=True,
                           max_encoders=1, scale_interval=0.5, max_inactivity=2, lease_seconds=20,
                           store="dynamodb")
    yield feeder.start()
    assert feeder.stop() == 0, feeder.log()


def start_encoder(feeder, instance_id, imds, log_path):
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "nommer.encoder", "--instance-id", instance_id],
            env={**feeder.env, "NOMMER_DATA_DIR": str(log_path.parent / f"data-{instance_id}"),
                 "NOMMER_IMDS_ENDPOINT": imds.url, "NOMMER_HEARTBEAT_INTERVAL": "0.5",
                 # A look every second rather than 5: on a quiet machine the
                 # encode below takes only several seconds.
                 "NOMMER_SPOT_CHECK_INTERVAL": "1"},
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def instance_state(ec2_client, instance_id):
    [reservation] = ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["State"]["Name"]


@pytest.mark.parametrize("notice", ["instance-action", "rebalance"])
def test_an_interruption_mid_encode_hands_the_job_back_and_it_finishes_elsewhere(
        feeder, bucket, s3_client, ec2_client, make_clip, tmp_path, notice):
    # Long enough that the encode outlasts several looks (spot_check_interval).
    clip = make_clip("spot-long.mp4", size="640x360", seconds=150)
    s3_client.upload_file(str(clip), bucket, "in/long.mp4")
    status, job = feeder.post("/jobs", {
        "source": f"s3://{bucket}/in/long.mp4", "priority": 20,
        "outputs": [{"destination": f"s3://{bucket}/out/long.webm", "preset": SLOW}]})
    assert status == 201, job

    [first] = wait_for(lambda: feeder.get("/fleet")[1]["members"], 30, "a spot instance launch")
    assert first["market"] == "spot"
    logs = [tmp_path / "encoder-1.log", tmp_path / "encoder-2.log"]
    encoders = []
    try:
        with ImdsServer(first["id"], "us-east-1", lifecycle="spot") as imds:
            encoders.append(start_encoder(feeder, first["id"], imds, logs[0]))
            wait_for(lambda: (lambda j: j["state"] == "ENCODING" and j["encoder_id"] == first["id"])(
                feeder.get(f"/jobs/{job['id']}")[1]), 90, "the first encoder to encode")
            if notice == "instance-action":
                imds.announce_interruption()
            else:
                imds.recommend_rebalance()
            back = wait_for(lambda: (lambda j: j if j["state"] == "PENDING" else None)(
                feeder.get(f"/jobs/{job['id']}")[1]), 30, "the job handed back", step=0.05)
            handed_back = time.monotonic() - imds.announced_at
            # The encoder ends its instance and exits.
            assert encoders[0].wait(60) == 0, logs[0].read_text()[-3000:]
        said = logs[0].read_text()
        [line] = [json.loads(l) for l in said.splitlines() if "work handed back" in l]
        print(f"\nspot hand-back ({notice}): {handed_back:.2f} s from the notice to the job back in the queue "
              f"({line['seconds']:.2f} s of it from the encoder seeing the notice)")
        assert handed_back < HAND_BACK_LIMIT, logs[0].read_text()[-3000:]
        assert back["encoder_id"] is None and back["attempt"] == 0  # not counted
        assert instance_state(ec2_client, first["id"]) in ("shutting-down", "terminated")
        assert "spot interruption notice" in said and "work handed back" in said

        # /fleet tells of the interruption, from the heartbeat record.
        [record] = [e for e in feeder.get("/fleet")[1]["encoders"] if e["id"] == first["id"]]
        assert record["info"]["interrupted"]["kind"] == notice
        assert record["info"]["jobs"] == [] and record["info"]["market"] == "spot"

        # The Scaler sees the encoder go and launches the capacity again.
        [second] = wait_for(lambda: [m for m in feeder.get("/fleet")[1]["members"]
                                     if m["id"] != first["id"]], 30, "a new instance")
        if notice == "rebalance":
            return  # the rest is the same for both
        with ImdsServer(second["id"], "us-east-1", lifecycle="spot") as quiet:
            encoders.append(start_encoder(feeder, second["id"], quiet, logs[1]))
            done = feeder.wait_job(job["id"], timeout=180)
        assert done["state"] == "FINISHED", (done, logs[1].read_text()[-3000:])
        assert done["encoder_id"] == second["id"] and done["attempt"] == 1
        assert done["priority"] == 20  # kept through the hand-back
        states = [s for s, _ in done["history"]]
        assert states[:4] == ["PENDING", "DOWNLOADING", "ENCODING", "PENDING"], states
        assert s3_client.head_object(Bucket=bucket, Key="out/long.webm")["ContentLength"] > 1000
    finally:
        for proc in encoders:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
