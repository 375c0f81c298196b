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
