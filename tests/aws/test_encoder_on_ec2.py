"""An encoder on EC2: it learns its instance from IMDSv2 (a loopback
stand-in, tests/aws/imds_server.py) and terminates its instance when idle
(moto's EC2)."""

import os
import subprocess
import sys
import time

import pytest

from nommer import encoder
from nommer.core import backends, log
from nommer.core import config as config_mod
from nommer.core.adapters import aws
from nommer.core.adapters.ec2_fleet import Ec2Fleet
from nommer.core.errors import ConfigError
from tests.aws.imds_server import ImdsServer
from tests.aws.moto_server import free_port

AMI = "ami-12345678"


@pytest.fixture
def logger():
    return log.get("nommer.encoder.test")


def aws_config(**settings):
    return config_mod.load(environ={}, overrides={"backend": "aws", **settings})


def state(ec2_client, instance_id):
    [reservation] = ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["State"]["Name"]


@pytest.fixture
def fleet_instance(unique, aws_endpoint):
    """An instance the fleet of cluster ``unique`` launched (tagged)."""
    [member] = Ec2Fleet(aws_config(cluster=unique, ec2_ami=AMI)).launch(1)
    return member.id


@pytest.fixture
def no_region(monkeypatch):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)


def test_on_aws_the_encoder_takes_its_id_and_region_from_imds(no_region, logger):
    with ImdsServer("i-0abc1234def567890", "ap-south-1") as imds:
        config, encoder_id = encoder.identify(aws_config(imds_endpoint=imds.url), None, logger)
    assert encoder_id == "i-0abc1234def567890"
    assert config.aws_region == "ap-south-1"


def test_a_given_instance_id_and_a_known_region_ask_imds_nothing(aws_endpoint, logger):
    with ImdsServer("i-0abc1234def567890", "ap-south-1") as imds:
        config, encoder_id = encoder.identify(aws_config(imds_endpoint=imds.url),
                                              "i-0fedcba9876543210", logger)
    assert encoder_id == "i-0fedcba9876543210" and imds.requests == []
    assert config.aws_region == ""  # boto3's own default (AWS_DEFAULT_REGION) applies


def test_on_aws_without_an_identity_the_encoder_refuses_to_start(aws_endpoint, logger):
    endpoint = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(encoder.NoIdentity, match=f"at {endpoint} \\(setting 'imds_endpoint'\\)"):
        encoder.identify(aws_config(imds_endpoint=endpoint), None, logger)


def test_a_given_id_without_a_region_or_imds_names_both_settings(no_region, logger):
    with pytest.raises(ConfigError, match="'aws_region'.*'imds_endpoint'"):
        encoder.identify(aws_config(imds_endpoint=f"http://127.0.0.1:{free_port()}"),
                         "i-0fedcba9876543210", logger)


def test_locally_nothing_changes(logger):
    with ImdsServer("i-0abc1234def567890", "ap-south-1") as imds:
        config, encoder_id = encoder.identify(config_mod.load(environ={}, overrides={
            "imds_endpoint": imds.url}), None, logger)
    assert encoder_id.endswith(f"-{os.getpid()}") and imds.requests == []
    assert encoder.end_machine(config, "i-0abc1234def567890", logger) == 0


def test_idle_encoder_terminates_its_own_fleet_instance(fleet_instance, unique, ec2_client, logger):
    assert encoder.end_machine(aws_config(cluster=unique), fleet_instance, logger) == 0
    assert state(ec2_client, fleet_instance) in ("shutting-down", "terminated")


def test_an_instance_the_fleet_did_not_launch_is_left_running(aws_endpoint, unique, ec2_client, logger):
    stranger = ec2_client.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    assert encoder.end_machine(aws_config(cluster=unique), stranger, logger) == 0
    assert state(ec2_client, stranger) == "running"
    # Nor an instance of another cluster, nor an id that is no instance id.
    other, mine = aws_config(cluster=unique + "x"), aws_config(cluster=unique)
    assert not backends.profile(other).end_machine(other, stranger)
    assert not backends.profile(mine).end_machine(mine, "myhost-1234")


def test_a_failed_termination_exits_non_zero_so_systemd_tries_again(
        fleet_instance, unique, monkeypatch, logger):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(aws, "RETRIES", {"mode": "standard", "max_attempts": 1})
    assert encoder.end_machine(aws_config(cluster=unique), fleet_instance, logger) == 1


# --- a real encoder process (its job store: DynamoDB on moto's server) -------------


def encoder_env(tmp_path, unique, simpledb_env, **settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMMER_")}
    env.update(simpledb_env)
    env.update({
        "NOMMER_BACKEND": "aws", "NOMMER_CLUSTER": unique,
        "NOMMER_DATA_DIR": str(tmp_path / "data"), "NOMMER_MAX_INACTIVITY": "1",
        "NOMMER_POLL_WAIT": "1", "NOMMER_HEARTBEAT_INTERVAL": "0.5", "NOMMER_LOG_FORMAT": "json",
    })
    env.update({f"NOMMER_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def run_encoder(env, tmp_path, *args):
    with open(tmp_path / "encoder.log", "ab") as out:
        proc = subprocess.run([sys.executable, "-m", "nommer.encoder", *args], env=env,
                              stdout=out, stderr=subprocess.STDOUT, timeout=60, check=False)
    return proc.returncode, (tmp_path / "encoder.log").read_text()


@pytest.mark.parametrize("how", ["--instance-id", "imds"])
def test_idle_encoder_process_terminates_its_instance(
        simpledb_env, fleet_instance, unique, ec2_client, tmp_path, how, monkeypatch):
    if how == "imds":
        with ImdsServer(fleet_instance, "us-east-1") as imds:
            status, output = run_encoder(
                encoder_env(tmp_path, unique, simpledb_env, imds_endpoint=imds.url), tmp_path)
    else:
        status, output = run_encoder(encoder_env(tmp_path, unique, simpledb_env), tmp_path,
                                     "--instance-id", fleet_instance)

    assert status == 0, output[-3000:]
    assert state(ec2_client, fleet_instance) in ("shutting-down", "terminated")
    assert fleet_instance in output and "terminating this instance" in output
    for name, value in simpledb_env.items():  # this process opens the same store
        monkeypatch.setenv(name, value)
    parts = backends.build(config_mod.load(environ={k: v for k, v in encoder_env(
        tmp_path, unique, simpledb_env).items() if k.startswith("NOMMER_")}))
    try:
        assert [e for e in parts.store.encoders() if e["id"] == fleet_instance] == []
    finally:
        parts.close()


# --- giving up the machine ------------------------------------------------------------


def marker_command(tmp_path):
    """A shutdown_command that leaves a mark instead of powering anything off."""
    marker = tmp_path / "shutdown-asked"
    return marker, f"sh -c 'echo halt >> {marker}'"


def test_an_encoder_without_an_identity_exits_and_asks_for_a_shutdown(aws_endpoint, tmp_path):
    marker, command = marker_command(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMMER_")}
    env.update({"NOMMER_BACKEND": "aws", "NOMMER_DATA_DIR": str(tmp_path / "data"),
                "NOMMER_IMDS_ENDPOINT": f"http://127.0.0.1:{free_port()}",
                "NOMMER_SHUTDOWN_COMMAND": command})
    proc = subprocess.run([sys.executable, "-m", "nommer.encoder"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)

    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "imds_endpoint" in proc.stderr and "giving up this machine" in proc.stderr
    assert marker.read_text() == "halt\n"
    assert "encoder started" not in proc.stdout + proc.stderr


def test_an_encoder_that_lost_the_store_and_queue_stops_and_asks_for_a_shutdown(tmp_path, unique):
    from nommer.testing.simpledb import start_server
    from tests.aws.moto_server import MotoServer

    marker, command = marker_command(tmp_path)
    moto = MotoServer(tmp_path / "moto.log").start()
    simpledb, simpledb_url = start_server(port=0)
    try:
        env = encoder_env(tmp_path, unique, {"AWS_ENDPOINT_URL_SIMPLEDB": simpledb_url},
                          lost_contact_timeout=2, shutdown_command=command,
                          heartbeat_interval=0.2, max_inactivity=600, poll_wait=0.5)
        env.update(moto.environment())
        env["AWS_MAX_ATTEMPTS"] = "1"
        with open(tmp_path / "encoder.log", "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "nommer.encoder", "--instance-id",
                                     "i-0123456789abcdef0"], env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
        log_text = lambda: (tmp_path / "encoder.log").read_text()  # noqa: E731
        deadline = time.monotonic() + 60
        while "encoder started" not in log_text():
            assert proc.poll() is None and time.monotonic() < deadline, log_text()[-3000:]
            time.sleep(0.1)
        time.sleep(1.0)
        assert proc.poll() is None  # in contact: it works on
    finally:
        moto.stop()
        simpledb.stop()
    try:
        status = proc.wait(90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 3, log_text()[-3000:]
    assert marker.read_text() == "halt\n"
    assert "lost_contact_timeout" in log_text()


# --- spot interruptions -----------------------------------------------------------------


def test_only_an_encoder_on_a_spot_instance_watches_for_interruptions(logger):
    with ImdsServer("i-0abc1234def567890", "us-east-1", lifecycle="spot") as spot:
        imds, market = encoder.spot_imds(aws_config(imds_endpoint=spot.url), logger)
        assert (imds.endpoint, market) == (spot.url, "spot")
        # 0 turns the looks off; locally there is nothing to watch.
        assert encoder.spot_imds(aws_config(imds_endpoint=spot.url, spot_check_interval=0),
                                 logger) == (None, "")
        assert encoder.spot_imds(config_mod.load(environ={}, overrides={
            "imds_endpoint": spot.url}), logger) == (None, "")
    with ImdsServer("i-0abc1234def567890", "us-east-1") as on_demand:
        assert encoder.spot_imds(aws_config(imds_endpoint=on_demand.url), logger) == (None, "on-demand")
    # Off EC2 (no metadata service): not watching, and starting all the same.
    dead = f"http://127.0.0.1:{free_port()}"
    assert encoder.spot_imds(aws_config(imds_endpoint=dead), logger) == (None, "")


def test_a_negative_spot_check_interval_is_refused_naming_it():
    with pytest.raises(ConfigError, match="spot_check_interval"):
        aws_config(spot_check_interval=-1)
