"""Encoders boot on stock images without a package index: `nommer aws
publish` puts a wheelhouse on S3, and the bootstrap script that the user data
carries installs nommer from it alone and starts the encoder.

The wheelhouse here is packed from this venv's installed distributions
(``--from-installed``), for this machine's platform and Python, so the test
needs no network; the script is the one taken out of the rendered user data,
run as cloud-init would run it, with two test hooks: ``--python`` (no
distribution package installed) and ``--foreground`` (no systemd)."""

import base64
import datetime
import gzip
import io
import os
import subprocess
import sys

import boto3
import pytest
import yaml

import nommer
from nommer import cli
from nommer.core import config as config_mod
from nommer.core.deploy import wheelhouse
from nommer.core.adapters import ec2_user_data
from nommer.core.errors import ConfigError
from tests.e2e.farm import open_parts, place_job, wait_final
from tests.aws.imds_server import ImdsServer
from tests.aws.moto_server import free_port

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def published(aws_endpoint, tmp_path_factory):
    """``s3://bucket/prefix/`` holding this version's wheelhouse."""
    bucket = f"wh{os.getpid()}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/farm/wheelhouse/"
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(["aws", "publish", "--wheelhouse", uri, "--from-installed"],
                      stdout=out, stderr=err)
    assert status == 0, err.getvalue()
    version = f"{uri}{nommer.__version__}/"
    assert out.getvalue().split() == [f"{version}wheels-{wheelhouse.local_arch()}.tar",
                                      f"{version}bootstrap-encoder.sh", f"{version}s3-fetch.py"]
    return uri


def boot_files(user_data, folder):
    """Write the files cloud-init would write from ``user_data`` into
    ``folder``; returns the runcmd command, its paths moved into ``folder``."""
    data = yaml.safe_load(user_data)
    for item in data["write_files"]:
        if item["path"].startswith(ec2_user_data.BOOT_FOLDER):
            assert item["encoding"] == "gz+b64"
            target = folder / os.path.basename(item["path"])
            target.write_bytes(gzip.decompress(base64.b64decode(item["content"])))
    [command] = data["runcmd"]
    return [str(folder / os.path.basename(part)) if part.startswith(ec2_user_data.BOOT_FOLDER)
            else part for part in command]


def boot_env(tmp_path, cluster, simpledb_env, imds_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOMMER_", "PIP_", "VIRTUAL_ENV"))}
    env.pop("PYTHONPATH", None)  # the installed nommer must be the one that runs
    env.update(simpledb_env)
    env.update({"NOMMER_BACKEND": "aws", "NOMMER_CLUSTER": cluster,
                "NOMMER_DATA_DIR": str(tmp_path / "data"), "NOMMER_MAX_INACTIVITY": "2",
                "NOMMER_POLL_WAIT": "1", "NOMMER_HEARTBEAT_INTERVAL": "0.5",
                "NOMMER_LOG_FORMAT": "json",
                # the stand-in speaks for an instance moto launched, which the
                # encoder terminates once idle, as on EC2
                "NOMMER_IMDS_ENDPOINT": imds_url,
                "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return env


def test_the_user_data_boots_an_encoder_from_the_wheelhouse_alone(
        published, tmp_path, unique, simpledb_env, bucket, s3_client, sample_clip, monkeypatch):
    config = config_mod.load(environ={}, overrides={"backend": "aws", "cluster": unique,
                                                    "wheelhouse": published})
    command = boot_files(ec2_user_data.render(config, environ={}), tmp_path)
    assert command[2:] == ["--wheelhouse", published, "--version", nommer.__version__]
    prefix = tmp_path / "opt-nommer"
    ec2 = boto3.client("ec2")
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[{
        "ResourceType": "instance", "Tags": [{"Key": "nommer:cluster", "Value": unique},
                                             {"Key": "nommer:role", "Value": "encoder"}]}])["Instances"][0]
    imds = ImdsServer(instance["InstanceId"], "us-east-1").__enter__()
    env = boot_env(tmp_path, unique, simpledb_env, imds.url)
    s3_client.upload_file(str(sample_clip), bucket, "in/boot.mp4")
    for name, value in simpledb_env.items():  # this process places the job in the same store
        monkeypatch.setenv(name, value)
    parts = open_parts({**env, "NOMMER_DATA_DIR": str(tmp_path / "placer")})
    try:
        job = place_job(parts, f"s3://{bucket}/in/boot.mp4",
                        [{"destination": f"s3://{bucket}/out/boot.mp4", "preset": "mp4-h264-360p"}])
        with open(tmp_path / "boot.log", "ab") as log:
            status = subprocess.run(
                [*command, "--prefix", str(prefix), "--python", sys.executable, "--foreground"],
                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=240).returncode
        output = (tmp_path / "boot.log").read_text()
        # The encoder ran from the virtualenv the script made, took the job,
        # then stopped once idle (exit 0).
        assert status == 0, output[-4000:]
        assert f"installed nommer {nommer.__version__}" in output
        assert str(prefix / "lib") in subprocess.run(
            [str(prefix / "bin" / "python"), "-c", "import nommer; print(nommer.__file__)"],
            cwd=tmp_path, env=env, capture_output=True, text=True).stdout
        # The units the script installs when no user data wrote them came along.
        assert (prefix / "share" / "nommer" / "nommer-feeder.service").is_file()
        done = wait_final(parts.store, job.id, timeout=10)
        assert done.state == "FINISHED", (done.details, output[-3000:])
        assert s3_client.head_object(Bucket=bucket, Key="out/boot.mp4")["ContentLength"] > 1000
        [reservation] = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"]
        assert reservation["Instances"][0]["State"]["Name"] in ("shutting-down", "terminated")  # idle: ended
    finally:
        parts.close()
        imds.__exit__(None, None, None)


def test_without_a_published_wheelhouse_the_boot_fails_saying_what_to_run(
        published, tmp_path, unique, simpledb_env):
    missing = published.replace("/farm/", "/nowhere/")
    config = config_mod.load(environ={}, overrides={"backend": "aws", "wheelhouse": missing})
    command = boot_files(ec2_user_data.render(config, environ={}), tmp_path)
    result = subprocess.run(
        [*command, "--prefix", str(tmp_path / "venv"), "--python", sys.executable, "--foreground"],
        env=boot_env(tmp_path, unique, simpledb_env, f"http://127.0.0.1:{free_port()}"),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr
    assert f"run 'nommer aws publish' for version {nommer.__version__}" in result.stderr


def test_the_downloader_signs_as_botocore_does(monkeypatch):
    """s3-fetch.py's Signature Version 4 (moto does not check signatures)."""
    import importlib.util

    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):  # AWS's own endpoint here
        monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location(
        "s3_fetch", ec2_user_data.deploy_folder() / "s3-fetch.py")
    fetch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch)
    now = datetime.datetime(2026, 5, 4, 3, 2, 1, tzinfo=datetime.timezone.utc)
    for session in (None, "FwoGZXIvYXdzEXAMPLESESSION"):
        creds = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session)
        url, host, path = fetch.object_url("media-bucket", "farm/wheel house/0.1.0/wheels.tar",
                                           "eu-west-1")
        mine = fetch.signed_headers(host, path, "eu-west-1", creds, now)

        request = botocore.awsrequest.AWSRequest(method="GET", url=url, headers={
            "X-Amz-Content-SHA256": fetch.EMPTY_SHA256})
        signer = botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(*creds), "s3", "eu-west-1")
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now.replace(tzinfo=None))
        signer.add_auth(request)
        assert url == "https://media-bucket.s3.eu-west-1.amazonaws.com/farm/wheel%20house/0.1.0/wheels.tar"
        assert mine["Authorization"] == request.headers["Authorization"]


def test_publish_refuses_a_wheelhouse_it_cannot_use(aws_endpoint, monkeypatch):
    monkeypatch.delenv("NOMMER_WHEELHOUSE", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["aws", "publish", "--from-installed"], stdout=out, stderr=err) == 2
    assert "nommer aws publish: setting 'wheelhouse': is empty" in err.getvalue()
    assert out.getvalue() == ""
    with pytest.raises(ConfigError) as e:
        wheelhouse.publish("", from_installed=True)
    assert "setting 'wheelhouse'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        wheelhouse.publish("s3://K:S@bucket/x/", from_installed=True)
    assert "no credentials" in str(e.value)
    other = "aarch64" if wheelhouse.local_arch() == "x86_64" else "x86_64"
    with pytest.raises(ConfigError) as e:
        wheelhouse.publish("s3://bucket/x/", arches=(other,), pythons=(PYTHON,),
                           from_installed=True)
    assert "--from-installed packs this machine's wheels" in str(e.value)


def test_on_an_instance_the_downloader_takes_credentials_and_region_from_imds(
        aws_endpoint, bucket, s3_client, tmp_path):
    import json
    import threading

    from tests.aws.imds_server import ImdsServer

    s3_client.put_object(Bucket=bucket, Key="farm/wheelhouse/x.tar", Body=b"wheels" * 1000)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION", "AWS_DEFAULT_REGION",
                                "AWS_REGION", "NOMMER_"))}
    with ImdsServer("i-0abc1234def567890", "us-east-1") as imds:
        env["NOMMER_IMDS_ENDPOINT"] = imds.url

        def profile_arrives():  # a new instance's profile is missing for a moment
            imds.values["iam/security-credentials/"] = "t-encoder"
            imds.values["iam/security-credentials/t-encoder"] = json.dumps({
                "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret",
                "Token": "session-token", "Expiration": "2099-01-01T00:00:00Z"})

        threading.Timer(1.0, profile_arrives).start()
        result = subprocess.run(
            [sys.executable, str(ec2_user_data.deploy_folder() / "s3-fetch.py"),
             f"s3://{bucket}/farm/wheelhouse/x.tar", str(tmp_path / "x.tar")],
            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.tar").read_bytes() == b"wheels" * 1000
    asked = [path for method, path, valid in imds.requests if method == "GET" and valid]
    assert "/latest/meta-data/placement/region" in asked
    assert asked.count("/latest/meta-data/iam/security-credentials/") >= 2  # 404, then the role
    assert "/latest/meta-data/iam/security-credentials/t-encoder" in asked


def test_the_feeder_warns_at_start_when_its_version_was_not_published(published, unique):
    import json

    import structlog

    from nommer.core import backends

    def settings(uri):
        return config_mod.load(environ={}, overrides={
            "backend": "aws", "cluster": unique, "ec2_ami": "ami-12345678", "wheelhouse": uri})

    assert wheelhouse.unpublished(settings(published)) is None
    missing = published.replace("/farm/", "/elsewhere/")
    with structlog.testing.capture_logs() as logs:
        fleet = backends.build_fleet(settings(missing))
    fleet.stop_all(timeout=1)
    [warning] = [entry for entry in logs if entry["log_level"] == "warning"]
    assert f"holds no wheels of nommer {nommer.__version__}" in warning["event"]
    assert "run `nommer aws publish`" in warning["event"]
    assert f"{missing}{nommer.__version__}/wheels-x86_64.tar" in warning["event"]
    # HeadObject is s3:GetObject, which the feeder's policy grants under the wheelhouse.
    policy = json.loads((ec2_user_data.deploy_folder() / "iam" / "feeder-policy.json").read_text())
    [check] = [s for s in policy["Statement"] if s["Sid"] == "CheckTheWheelhouse"]
    assert check["Action"] == "s3:GetObject"
    assert check["Resource"].endswith("/CLUSTER/wheelhouse/*")
