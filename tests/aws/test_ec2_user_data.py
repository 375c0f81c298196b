"""The encoder instances' user data: what it installs and starts, and that it
carries no credential."""

import pytest
import yaml

import nommer
from nommer.core import config as config_mod
from nommer.core.adapters import ec2_user_data
from nommer.core.errors import ConfigError

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAFEEDERKEY1234567",
    "AWS_SECRET_ACCESS_KEY": "feeder/Secret+Access+Key+0123456789abcdef",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEFEEDERSESSIONTOKEN0123456789",
}
# Secret settings as other parts of nommer may declare them: by name, or
# marked secret.
SECRET_SETTINGS = {
    "notify_secret": "hmac-secret-value-1",
    "api_token": "api-token-value-2",
    "admin_password": "admin-password-value-3",
    "webhook_hmac": "marked-secret-value-4",
}


@pytest.fixture
def with_secret_settings(monkeypatch):
    for name in SECRET_SETTINGS:
        setting = config_mod.Setting(name, "str", "", "test", secret=name == "webhook_hmac")
        monkeypatch.setitem(config_mod.SETTINGS_BY_NAME, name, setting)


def aws_config(**settings):
    return config_mod.load(environ={}, overrides={"backend": "aws", "ec2_ami": "ami-12345678",
                                                 **settings})


def sections(text):
    """The environment file lines and the bootstrap command of rendered user data."""
    data = yaml.safe_load(text)
    files = {f["path"]: f["content"] for f in data["write_files"]}
    env = dict(line.split("=", 1) for line in files["/etc/nommer/encoder.env"].splitlines())
    [command] = data["runcmd"]
    assert command[:2] == ["bash", "/var/lib/nommer-boot/bootstrap-encoder.sh"]
    return data, files, env, command


def test_user_data_installs_this_version_and_starts_the_encoder():
    text = ec2_user_data.render(aws_config(jobs_per_encoder=4, max_inactivity=120.0,
                                           file_roots=["/mnt/media", "/mnt/more"]),
                                region="eu-west-1", environ={})

    data, files, env, pip = sections(text)
    assert text.startswith("#cloud-config\n")
    assert pip[2:] == ["--requirement", f"nommer=={nommer.__version__}"]
    assert env["NOMMER_BACKEND"] == '"aws"' and env["NOMMER_AWS_REGION"] == '"eu-west-1"'
    assert env["NOMMER_JOBS_PER_ENCODER"] == '"4"'
    assert env["NOMMER_MAX_INACTIVITY"] == '"120.0"'
    assert env["NOMMER_FILE_ROOTS"] == '"/mnt/media:/mnt/more"'
    assert env["NOMMER_DATA_DIR"] == '"/var/lib/nommer"'
    # Settings only the feeder reads stay with it.
    assert not any(k in env for k in ("NOMMER_EC2_AMI", "NOMMER_PORT", "NOMMER_HOST"))
    assert "ExecStart=/opt/nommer/bin/python -m nommer.encoder --config" in files[
        "/etc/systemd/system/nommer-encoder.service"]
    assert "EnvironmentFile=/etc/nommer/encoder.env" in files[
        "/etc/systemd/system/nommer-encoder.service.d/ec2.conf"]
    # The bootstrap script (deploy/bootstrap-encoder.sh) travels in the user
    # data, gzipped, with its S3 downloader.
    import base64
    import gzip

    boot = {f["path"]: f for f in data["write_files"] if f["path"].startswith("/var/lib/nommer-boot/")}
    script = boot["/var/lib/nommer-boot/bootstrap-encoder.sh"]
    assert script["encoding"] == "gz+b64" and script["permissions"] == "0755"
    assert gzip.decompress(base64.b64decode(script["content"])) == (
        ec2_user_data.deploy_folder() / "bootstrap-encoder.sh").read_bytes()
    assert "/var/lib/nommer-boot/s3-fetch.py" in boot


def test_with_a_wheelhouse_encoders_install_from_it_and_not_from_an_index():
    text = ec2_user_data.render(aws_config(wheelhouse="s3://media-bucket/farm/wheelhouse",
                                           install_spec="nommer==9.9"), environ={})
    _, _, env, command = sections(text)
    assert command[2:] == ["--wheelhouse", "s3://media-bucket/farm/wheelhouse/",
                           "--version", nommer.__version__]
    assert "NOMMER_WHEELHOUSE" not in env and "nommer==9.9" not in text
    with pytest.raises(ConfigError) as e:
        aws_config(wheelhouse="https://example.com/wheels/")
    assert "setting 'wheelhouse'" in str(e.value)


def test_no_credential_and_no_secret_setting_reaches_user_data(with_secret_settings, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    config = aws_config(jobs_per_encoder=3)
    config = config_mod.Config({**config.values, **SECRET_SETTINGS})

    text = ec2_user_data.render(config, region="us-east-1")

    for value in [*CREDENTIALS.values(), *SECRET_SETTINGS.values()]:
        assert value not in text
    for name in CREDENTIALS:
        assert name not in text
    assert 'NOMMER_JOBS_PER_ENCODER="3"' in text  # the settings that may go, went


def test_a_setting_holding_a_credential_by_mistake_is_refused(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    config = aws_config(file_roots=[CREDENTIALS["AWS_SECRET_ACCESS_KEY"]])

    with pytest.raises(ConfigError) as e:
        ec2_user_data.render(config, region="us-east-1")
    assert "setting 'file_roots'" in str(e.value) and "AWS_SECRET_ACCESS_KEY" in str(e.value)
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in str(e.value)


def test_install_spec_may_name_a_wheel_but_not_carry_credentials():
    wheel = "https://downloads.example/nommer-0.1.0-py3-none-any.whl"
    _, _, _, pip = sections(ec2_user_data.render(aws_config(install_spec=wheel), environ={}))
    assert pip[-1] == wheel

    with pytest.raises(ConfigError) as e:
        ec2_user_data.render(aws_config(install_spec="https://user:pw@pypi.example/nommer.whl"),
                             environ={})
    assert "setting 'install_spec'" in str(e.value) and "pw@" not in str(e.value)


def test_values_are_quoted_for_systemd_and_yaml():
    text = ec2_user_data.render(aws_config(ffmpeg='/opt/ff "mpeg"\\bin'), environ={})
    _, _, env, _ = sections(text)
    assert env["NOMMER_FFMPEG"] == '"/opt/ff \\"mpeg\\"\\\\bin"'


def test_too_big_user_data_is_refused():
    with pytest.raises(ConfigError) as e:
        ec2_user_data.render(aws_config(file_roots=["/m" * 8000]), environ={})
    assert "more than EC2's 16384" in str(e.value)


def _systemd_value(quoted):
    # The reverse of ec2_user_data's quoting: double quotes, C escapes.
    assert quoted[0] == quoted[-1] == '"'
    return quoted[1:-1].encode().decode("unicode_escape")


def test_settings_reach_the_encoder_as_the_feeder_has_them():
    feeder = aws_config(allowed_networks=["10.0.0.0/8", "192.168.0.0/16"],
                        file_roots=["/mnt/media", "/mnt/more"], jobs_per_encoder=3,
                        idle_terminate=False, encode_timeout=90.0)
    _, _, env, _ = sections(ec2_user_data.render(feeder, region="eu-west-1", environ={}))

    encoder = config_mod.load(environ={name: _systemd_value(v) for name, v in env.items()})
    for name in ("allowed_networks", "file_roots", "jobs_per_encoder", "idle_terminate",
                 "encode_timeout"):
        assert encoder.values[name] == feeder.values[name], name
    assert env["NOMMER_ALLOWED_NETWORKS"] == '"10.0.0.0/8,192.168.0.0/16"'


def test_an_encoder_giving_up_powers_the_instance_off_and_only_then(tmp_path):
    import os
    import shlex
    import subprocess

    _, files, _, _ = sections(ec2_user_data.render(aws_config(), region="eu-west-1", environ={}))
    unit = files["/etc/systemd/system/nommer-encoder.service"]
    assert "RestartPreventExitStatus=3" in unit.splitlines()
    [line] = [ln for ln in files["/etc/systemd/system/nommer-encoder.service.d/ec2.conf"].splitlines()
              if ln.startswith("ExecStopPost=")]
    assert line.startswith("ExecStopPost=+")  # as root, whatever the unit's User=
    # What systemd runs: "$$" is its escape of a literal "$".
    argv = shlex.split(line.removeprefix("ExecStopPost=+").replace("$$", "$"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "systemctl-called"
    fake = bin_dir / "systemctl"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {marker}\n")
    fake.chmod(0o755)
    for status in ("0", "1", "2", "143", "3"):
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "EXIT_STATUS": status}
        assert subprocess.run(argv, env=env, timeout=10).returncode == 0
        assert marker.exists() == (status == "3"), status
    assert marker.read_text() == "--no-block poweroff\n"
