"""The farm in AWS mode: a real feeder process whose Scaler launches an EC2
instance (moto's), an encoder process standing in for that instance's
encoder, sources and outputs on S3, and the queues on SQS. The job store is
DynamoDB (moto's), the default; the first test runs once more on SimpleDB
(nommer's SimpleDB server)."""

import subprocess
import sys

import pytest

from nommer.core.adapters.ec2_fleet import TAG_CLUSTER
from tests.e2e.farm import farm_config, wait_for
from tests.e2e.feeder import FeederProcess

AMI = "ami-12345678"
KEY_ID = "AKIAFARMEXAMPLE"
SECRET = "farm/Secret+Key0123456789EXAMPLE"


@pytest.fixture
def feeder(request, tmp_path, unique, aws_endpoint):
    from cryptography.fernet import Fernet

    store = getattr(request, "param", "dynamodb")

    # The URI below carries credentials: they are sealed with secret_key in
    # the store. Encoders need the same key; on a real fleet the operator
    # provisions it (docs/security.md), never through user data.
    feeder = FeederProcess(tmp_path, [], backend="aws", cluster=unique, ec2_ami=AMI,
                           max_encoders=1, scale_interval=0.5, max_inactivity=2,
                           lease_seconds=20, secret_key=Fernet.generate_key().decode(),
                           store=store)
    if store == "simpledb":
        feeder.env.update(request.getfixturevalue("simpledb_env"))
    yield feeder.start()
    assert feeder.stop() == 0, feeder.log()


def start_encoder(feeder, instance_id, log_path):
    """What the instance's user data would start: the encoder with the
    feeder's settings."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "nommer.encoder", "--instance-id", instance_id],
            env={**feeder.env, "NOMMER_DATA_DIR": str(log_path.parent / "encoder-data")},
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def job_store_of(feeder, monkeypatch):
    """The job store the feeder's settings name, opened in this process."""
    from nommer.core.backends import aws as aws_backend

    if "AWS_ENDPOINT_URL_SIMPLEDB" in feeder.env:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SIMPLEDB", feeder.env["AWS_ENDPOINT_URL_SIMPLEDB"])
    return aws_backend.store(farm_config(feeder.env))


@pytest.mark.parametrize("feeder", ["dynamodb", "simpledb"], indirect=True)
def test_a_job_from_s3_to_s3_on_an_ec2_fleet(feeder, bucket, s3_client, ec2_client, sample_clip,
                                             unique, tmp_path, monkeypatch):
    s3_client.upload_file(str(sample_clip), bucket, "in/clip.mp4")
    status, job = feeder.post("/jobs", {
        "source": f"s3://{KEY_ID}:{SECRET}@{bucket}/in/clip.mp4",
        "outputs": [{"destination": f"s3://{bucket}/out/clip-480.mp4", "preset": "mp4-h264-480p"}],
    })
    assert status == 201, job
    assert job["source"].startswith("s3://***") and job["source"].endswith(f"@{bucket}/in/clip.mp4")
    assert KEY_ID not in str(job) and SECRET not in str(job)

    members = wait_for(lambda: feeder.get("/fleet")[1]["members"], 30, "an instance launch")
    [instance_id] = [m["id"] for m in members]
    [reservation] = ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"]
    tags = {t["Key"]: t["Value"] for t in reservation["Instances"][0]["Tags"]}
    assert tags[TAG_CLUSTER] == unique

    encoder = start_encoder(feeder, instance_id, tmp_path / "encoder.log")
    try:
        done = feeder.wait_job(job["id"], timeout=120)
        assert done["state"] == "FINISHED", (done, (tmp_path / "encoder.log").read_text()[-3000:])
        assert done["encoder_id"] == instance_id
        head = s3_client.head_object(Bucket=bucket, Key="out/clip-480.mp4")
        assert head["ContentLength"] > 1000 and head["ContentType"] == "video/mp4"
        # Idle now: the encoder ends its instance, and exits 0.
        assert encoder.wait(60) == 0
    finally:
        if encoder.poll() is None:
            encoder.kill()
    [reservation] = ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] in ("shutting-down", "terminated")
    # The job is in the store the settings chose.
    store = job_store_of(feeder, monkeypatch)
    assert type(store).__name__ == {"dynamodb": "DynamoDbJobStore",
                                    "simpledb": "SimpleDbJobStore"}[feeder.env["NOMMER_STORE"]]
    assert store.get(job["id"]).state.value == "FINISHED"
    logs = feeder.log() + (tmp_path / "encoder.log").read_text()
    assert SECRET not in logs and KEY_ID not in logs


def test_a_feeder_killed_and_started_again_carries_on_from_the_store(
        feeder, bucket, s3_client, sample_clip, tmp_path):
    import signal

    s3_client.upload_file(str(sample_clip), bucket, "in/again.mp4")
    status, job = feeder.post("/jobs", {
        "source": f"s3://{bucket}/in/again.mp4",
        "outputs": [{"destination": f"s3://{bucket}/out/again.mp4", "preset": "mp4-h264-360p"}]})
    assert status == 201, job
    [member] = wait_for(lambda: feeder.get("/fleet")[1]["members"], 30, "an instance launch")
    feeder.stop(signal.SIGKILL)  # before any encoder took the job
    feeder.start()
    # the new feeder knows the job from the store and the instance from its tags
    status, again = feeder.get(f"/jobs/{job['id']}")
    assert status == 200 and again["state"] == "PENDING"
    assert [m["id"] for m in feeder.get("/fleet")[1]["members"]] == [member["id"]]
    encoder = start_encoder(feeder, member["id"], tmp_path / "encoder.log")
    try:
        done = feeder.wait_job(job["id"], timeout=120)
        assert done["state"] == "FINISHED", (done, (tmp_path / "encoder.log").read_text()[-3000:])
        assert s3_client.head_object(Bucket=bucket, Key="out/again.mp4")["ContentLength"] > 1000
    finally:
        if encoder.poll() is None:
            encoder.kill()
        encoder.wait()
