import pathlib

import pytest

from nommer.core import config
from nommer.core.errors import ConfigError


def test_defaults_are_media_nommers():
    c = config.load(environ={})
    assert c.jobs_per_encoder == 2
    assert c.job_overflow_threshold == 2
    assert c.port == 8001 and c.host == "127.0.0.1"
    assert c.backend == "local"
    assert c.encoders_max >= 1


def test_file_then_environment_then_overrides(tmp_path):
    path = tmp_path / "n.toml"
    path.write_text('port = 9000\njobs_per_encoder = 4\nfile_roots = ["/srv/media"]\n')
    c = config.load(path, environ={"NOMMER_PORT": "9100", "NOMMER_IDLE_TERMINATE": "false"},
                    overrides={"jobs_per_encoder": 5})
    assert c.port == 9100
    assert c.jobs_per_encoder == 5
    assert c.idle_terminate is False
    assert c.file_roots == ["/srv/media"]
    assert pathlib.Path("/srv/media") in c.allowed_roots


@pytest.mark.parametrize("environ, message", [
    ({"NOMMER_PORT": "eighty"}, "'port' (environment NOMMER_PORT): must be a whole number"),
    ({"NOMMER_JOBS_PER_ENCODER": "0"}, "'jobs_per_encoder' (environment NOMMER_JOBS_PER_ENCODER): must be at least 1"),
    ({"NOMMER_BACKEND": "gcp"}, "'backend' (environment NOMMER_BACKEND): must be one of local, aws"),
    ({"NOMMER_IDLE_TERMINATE": "perhaps"}, "'idle_terminate' (environment NOMMER_IDLE_TERMINATE): must be true or false"),
    ({"NOMMER_LEASE_SECONDS": "-1"}, "'lease_seconds' (environment NOMMER_LEASE_SECONDS): must be at least 1"),
    ({"NOMMER_FAULT_RATE": "0.9"}, "'fault_rate' (environment NOMMER_FAULT_RATE): must be at most 0.5"),
    ({"NOMMER_MAX_ENCODER": "3"}, "unknown setting 'max_encoder'; did you mean 'max_encoders'?"),
])
def test_bad_environment_values_name_the_key(environ, message):
    with pytest.raises(ConfigError) as e:
        config.load(environ=environ)
    assert message in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("port = \"x\"", "'port' (config file"),
    ("jobs_per_encoder = 1.5", "must be a whole number"),
    ("idle_terminate = \"yes\"", "must be true or false"),
    ("file_roots = \"/srv\"", "must be a list of text"),
    ("colour = 1", "unknown setting 'colour'"),
    ("port = ", "is not valid TOML"),
])
def test_bad_file_values_name_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.load(path, environ={})


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml", environ={})


def test_docs_table_lists_every_setting():
    table = config.settings_markdown()
    for setting in config.SETTINGS:
        assert f"`NOMMER_{setting.name.upper()}`" in table


def test_docs_settings_file_is_current():
    import pathlib

    text = (pathlib.Path(__file__).parents[2] / "docs" / "settings.md").read_text()
    assert config.settings_markdown() in text, "docs/settings.md is out of date: paste nommer.core.config.settings_markdown() into it"


def test_client_variables_are_not_settings():
    c = config.load(environ={"NOMMER_URL": "http://x:1", "NOMMER_TOKEN": "t", "NOMMER_PORT": "9001"})
    assert c.port == 9001


def test_encode_timeout_and_progress_interval_defaults():
    c = config.load(environ={})
    assert c.progress_interval == 2.0
    assert c.encode_timeout == 6 * 3600.0


# Values of the settings whose check refuses an arbitrary one, and of every
# list (two items each, so that the separator matters).
ROUND_TRIP_SAMPLES = {
    "file_roots": ["/srv/media one", "/srv/media,two"],
    "ec2_security_groups": ["sg-0123456789abcdef0", "sg-0fedcba9876543210"],
    "api_tokens": ["token-one-0123456789", "token:two:0123456789"],
    "allowed_networks": ["10.0.0.0/8", "192.168.0.0/16", "fd00::/8"],
    "legacy_networks": ["10.1.2.0/24", "fd00:1::/64"],
    "confinement_read_paths": ["/usr/share/fonts", "/srv/luts,one"],
    "wheelhouse": "s3://media-bucket/nommer/wheels/",
    "adapter_hook": "nommer.testing.faults",
    "secret_key": "q9y3XQfFhGdYJDbN3B0xk8s2E1Jx2Ffq7cNnE9fQ0aI=,9yF0QqKx8b1mVJ4Xk2qk3b8Vd8Z5d2QzYwJ3nO1sN0E=",
    "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "presets": {"tiny": {"description": "tiny", "extension": "mp4",
                         "args": ["-c:v", "libx264", "-preset", "ultrafast"]}},
    "log_format": "json",
    "backend": "aws",
}


def _sample(setting):
    if setting.name in ROUND_TRIP_SAMPLES:
        return ROUND_TRIP_SAMPLES[setting.name]
    assert setting.kind not in ("list", "table"), f"add a sample of {setting.name!r}"
    if setting.kind == "bool":
        return not setting.default
    if setting.kind in ("int", "float"):
        if setting.maximum is not None:
            return (setting.default + setting.maximum) / 2
        return setting.default + (1 if setting.kind == "int" else 1.25)
    if setting.kind == "choice":
        return [c for c in setting.choices if c != setting.default][-1]
    if setting.kind == "path":
        return "/var/lib/nommer data"
    return "text with, commas: colons; and \"quotes\""


@pytest.mark.parametrize("setting", config.SETTINGS, ids=lambda s: s.name)
def test_every_setting_survives_the_serializer_and_the_loader(setting):
    value = config.load(environ={}, overrides={setting.name: _sample(setting)}).values[setting.name]
    text = config.environment_text(setting.name, value)
    back = config.load(environ={f"NOMMER_{setting.name.upper()}": text})
    assert back.values[setting.name] == value
    assert value != config.default_of(setting)


def test_a_list_item_holding_its_separator_cannot_travel():
    with pytest.raises(ConfigError, match="'allowed_networks'.*holds ','"):
        config.environment_text("allowed_networks", ["10.0.0.0/8,192.168.0.0/16"])


def test_every_wrong_key_and_value_is_reported_at_once(tmp_path):
    path = tmp_path / "nommer.toml"
    path.write_text('jobs_per_encodr = 2\nlog_level = "loud"\nport = "eighty"\n')
    with pytest.raises(ConfigError) as wrong:
        config.load(path, environ={"NOMMER_MAX_ATTEMPTS": "many", "NOMMER_NO_SUCH": "1"})
    lines = str(wrong.value).splitlines()
    assert lines[0] == "5 settings are wrong:"
    text = str(wrong.value)
    for named in ("'jobs_per_encodr'; did you mean 'jobs_per_encoder'?", "NOMMER_NO_SUCH",
                  "setting 'log_level'", "setting 'port'", "setting 'max_attempts' (environment NOMMER_MAX_ATTEMPTS)"):
        assert named in text, named
    assert all(line.startswith("- ") for line in lines[1:]) and len(lines) == 6


def test_media_nommers_setting_names_are_taken_in_a_file_and_said(tmp_path):
    path = tmp_path / "nommer.toml"
    path.write_text("MAX_NUM_EC2_INSTANCES = 4\nFEEDERD_ABANDON_INACTIVE_JOBS_THRESH = 2\n"
                    "NOMMERD_TERMINATE_WHEN_IDLE = false\n")
    settings = config.load(path, environ={})
    assert (settings.max_encoders, settings.abandon_after, settings.idle_terminate) == (4, 7200.0, False)
    assert any("MAX_NUM_EC2_INSTANCES = 4" in note and "max_encoders = 4" in note for note in settings.notes)
    assert any("abandon_after = 7200" in note for note in settings.notes)  # hours there, seconds here


def test_a_setting_given_by_both_names_is_refused(tmp_path):
    path = tmp_path / "nommer.toml"
    path.write_text("MAX_NUM_EC2_INSTANCES = 4\nmax_encoders = 2\n")
    with pytest.raises(ConfigError, match="'MAX_NUM_EC2_INSTANCES' is media-nommer's name of 'max_encoders'"):
        config.load(path, environ={})


def test_a_translated_setting_is_logged_once_logging_is_set_up(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "nommer.toml"
    path.write_text("MAX_ENCODING_JOBS_PER_EC2_INSTANCE = 3\n")
    code = ("import sys; from nommer.core import config, log; "
            "log.configure_from(config.load(sys.argv[1], environ={}))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "setting translated" in done.stderr and "jobs_per_encoder = 3" in done.stderr
