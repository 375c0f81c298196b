"""``python -m nommer.testing.aws``: the offline AWS trial in one command."""

import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

import boto3


def read_exports(path):
    env = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


def test_the_trial_starts_moto_simpledb_and_imds_and_prints_their_environment(tmp_path):
    env_file = tmp_path / "trial.env"
    proc = subprocess.Popen([sys.executable, "-m", "nommer.testing.aws", "--env-file", str(env_file),
                             "--cluster", "trial"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
    try:
        deadline = time.monotonic() + 90
        while not env_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert env_file.exists(), proc.stderr.read() if proc.poll() is not None else "no env file in 90 s"
        env = read_exports(env_file)
        assert env["NOMMER_BACKEND"] == "aws" and env["AWS_ACCESS_KEY_ID"] == "test"
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SIMPLEDB", "NOMMER_IMDS_ENDPOINT"):
            assert env[name].startswith("http://127.0.0.1:"), name
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                        region_name=env["AWS_DEFAULT_REGION"])
        url = env["AWS_ENDPOINT_URL"]
        assert env["NOMMER_TRIAL_BUCKET"] in [b["Name"] for b in session.client("s3", endpoint_url=url).list_buckets()["Buckets"]]
        assert session.client("dynamodb", endpoint_url=url).list_tables()["TableNames"] == []
        sdb = session.client("sdb", endpoint_url=env["AWS_ENDPOINT_URL_SIMPLEDB"])
        assert sdb.list_domains().get("DomainNames", []) == []
        # The stand-in speaks for an encoder instance of the cluster that moto knows.
        imds = env["NOMMER_IMDS_ENDPOINT"]
        token = urllib.request.urlopen(urllib.request.Request(
            imds + "/latest/api/token", method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=5).read().decode()
        instance_id = urllib.request.urlopen(urllib.request.Request(
            imds + "/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token}),
            timeout=5).read().decode()
        [reservation] = session.client("ec2", endpoint_url=url).describe_instances(
            InstanceIds=[instance_id])["Reservations"]
        tags = {t["Key"]: t["Value"] for t in reservation["Instances"][0]["Tags"]}
        assert (tags["nommer:cluster"], tags["nommer:role"]) == ("trial", "encoder")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "export AWS_ENDPOINT_URL=" in out  # printed for a person too
    try:
        urllib.request.urlopen(url + "/moto-api/", timeout=2)
        raise AssertionError("moto's server still answers after the trial stopped")
    except OSError:
        pass
