"""The EC2 user data of an encoder instance: ``deploy/cloud-init.yaml``
rendered with the encoder's settings.

User data is readable by anything on the instance and by anyone allowed to
describe it, so it carries no credential: no AWS keys (encoders use their
instance profile), and no setting that is secret or named like one. Only the
settings an encoder uses, and only where they differ from the defaults, go
into it, as ``NOMMER_*`` lines of a systemd environment file.
"""

import base64
import gzip
import json
import os
import pathlib
import re
import string
import sys
import urllib.parse

import nommer
from nommer.core import config as config_mod
from nommer.core.errors import ConfigError

MAX_BYTES = 16 * 1024  # EC2's limit on user data
TEMPLATE = "cloud-init.yaml"
UNIT = "nommer-encoder.service"
BOOTSTRAP = "bootstrap-encoder.sh"
S3_FETCH = "s3-fetch.py"
BOOT_FOLDER = "/var/lib/nommer-boot"
ENCODER_DATA_DIR = "/var/lib/nommer"

# Settings only the feeder reads.
FEEDER_ONLY = frozenset({
    "host", "port", "data_dir", "max_encoders", "autoscale", "min_encoders",
    "job_overflow_threshold", "scale_interval", "state_check_interval", "reap_interval",
    "abandon_after", "notify_attempts", "notify_timeout", "notify_backoff",
    "request_timeout", "max_restarts", "restart_window", "install_spec", "boot_timeout", "wheelhouse",
    "log_file",  # encoders on EC2 log to the journal
})
FEEDER_ONLY_PREFIXES = ("ec2_",)
# A setting whose name says it holds a secret never leaves the feeder.
SECRET_NAME = re.compile(
    r"secret|token|password|passwd|credential|private|signing|api_?key|access_?key|session",
    re.IGNORECASE,
)
# Values of these variables must never appear in user data.
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                        "AWS_SECURITY_TOKEN")


def deploy_folder():
    """``deploy/`` of a source checkout, else the copy a wheel installs in
    ``<prefix>/share/nommer``."""
    for folder in (pathlib.Path(nommer.__file__).resolve().parent.parent / "deploy",
                   pathlib.Path(sys.prefix) / "share" / "nommer"):
        if all((folder / name).is_file() for name in (TEMPLATE, UNIT, BOOTSTRAP, S3_FETCH)):
            return folder
    raise ConfigError(f"cannot find {TEMPLATE}, {UNIT}, {BOOTSTRAP} and {S3_FETCH} (looked in "
                      f"the deploy folder of the source tree and in {sys.prefix}/share/nommer); "
                      "reinstall nommer")


def is_secret(setting_name):
    setting = config_mod.SETTINGS_BY_NAME.get(setting_name)
    return bool(getattr(setting, "secret", False)) or bool(SECRET_NAME.search(setting_name))


def encoder_settings(config, region):
    """``{NOMMER_NAME: text}`` of the settings an encoder instance needs."""
    env = {"NOMMER_BACKEND": "aws", "NOMMER_DATA_DIR": ENCODER_DATA_DIR}
    if region:
        env["NOMMER_AWS_REGION"] = region
    for name, value in config.values.items():
        if (name in FEEDER_ONLY or name.startswith(FEEDER_ONLY_PREFIXES) or is_secret(name)
                or name in ("backend", "aws_region")):
            continue
        setting = config_mod.SETTINGS_BY_NAME.get(name)
        if setting is None or value == config_mod.default_of(setting):
            continue
        text = config_mod.environment_text(name, value)
        if any(c in text for c in "\n\r\0"):
            raise ConfigError(f"setting {name!r}: holds a line break, which cannot be "
                              "passed to encoder instances")
        env[f"NOMMER_{name.upper()}"] = text
    return env


def install_spec(config):
    """What encoder instances pip install; refuses a URL with credentials."""
    spec = config.install_spec.strip() or f"nommer=={nommer.__version__}"
    for word in spec.split():
        parts = urllib.parse.urlsplit(word)
        if parts.scheme and "@" in parts.netloc:
            raise ConfigError("setting 'install_spec': holds a URL with credentials in it, "
                              "and user data must carry none; use a URL that needs none")
    if any(c in spec for c in "\n\r\0"):
        raise ConfigError("setting 'install_spec': holds a line break")
    return spec


def bootstrap_command(config):
    """The command (a list) that runs the bootstrap script: offline from the
    wheelhouse when the setting names one, else from the package index."""
    command = ["bash", f"{BOOT_FOLDER}/{BOOTSTRAP}"]
    if config.wheelhouse:
        return command + ["--wheelhouse", config.wheelhouse, "--version", nommer.__version__]
    return command + ["--requirement", install_spec(config)]


def _packed(path):
    # gzip + base64 (cloud-init's gz+b64): the scripts take a third of their size.
    return base64.b64encode(gzip.compress(path.read_bytes(), mtime=0)).decode()


def _quoted(text):
    # systemd's environment files take double-quoted values with C escapes.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _indent(text, spaces=6):
    pad = " " * spaces
    return "\n".join(pad + line if line else "" for line in text.splitlines())


def render(config, region=None, environ=None):
    """The user data (text) that installs this nommer version on an instance
    (deploy/bootstrap-encoder.sh, from the wheelhouse or the package index)
    and starts its encoder with systemd. Raises ConfigError when a setting
    cannot go there or the result is too big."""
    environ = os.environ if environ is None else environ
    folder = deploy_folder()
    template = string.Template((folder / TEMPLATE).read_text())
    env = encoder_settings(config, region)
    lines = [f"{name}={_quoted(value)}" for name, value in sorted(env.items())]
    try:
        text = template.substitute(
            environment=_indent("\n".join(lines)),
            encoder_unit=_indent((folder / UNIT).read_text()),
            bootstrap=_packed(folder / BOOTSTRAP),
            s3_fetch=_packed(folder / S3_FETCH),
            bootstrap_command=json.dumps(bootstrap_command(config)),  # JSON is YAML
        )
    except (KeyError, ValueError) as e:
        raise ConfigError(f"{folder / TEMPLATE}: bad placeholder {e}") from None
    for variable in CREDENTIAL_VARIABLES:
        secret = environ.get(variable, "")
        # A belt to the braces above: a setting may hold a key by mistake.
        if len(secret) >= 8 and secret in text:
            culprit = next((n for n, v in env.items() if secret in v), "install_spec")
            raise ConfigError(f"setting {culprit.removeprefix('NOMMER_').lower()!r}: holds the "
                              f"value of {variable}, and user data must carry no credential")
    size = len(text.encode())
    if size > MAX_BYTES:
        raise ConfigError(f"the encoder user data is {size} bytes, more than EC2's "
                          f"{MAX_BYTES}; set fewer settings or a shorter install_spec")
    return text
