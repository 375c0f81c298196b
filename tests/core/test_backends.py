"""The backend profiles: one per name of the ``backend`` setting, the test
hook wired in by the configuration, and core that never imports
nommer.testing."""

import ast
import os
import pathlib

import pytest

import nommer
from nommer.core import backends, config as config_mod, log
from nommer.core.adapters.local_fleet import pid_dir
from nommer.core.errors import ConfigError
from nommer.core.retrying import RetryingStore
from nommer.testing.faults import Faulty

PACKAGE = pathlib.Path(nommer.__file__).parent


def local_config(tmp_path, **settings):
    return config_mod.load(environ={}, overrides={"data_dir": str(tmp_path / "data"), **settings})


def imported_modules(source, module, is_package=False):
    """Every module the source of ``module`` imports, wherever the import
    stands (a function's too), relative imports resolved."""
    package = module if is_package else module.rsplit(".", 1)[0]
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def imports_of(path):
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return imported_modules(path.read_text(), module.removesuffix(".__init__"),
                            is_package=path.name == "__init__.py")


def imports_of_testing(names):
    return [n for n in names if n == "nommer.testing" or n.startswith("nommer.testing.")]


@pytest.mark.parametrize("folder", ["core", "actors"])
def test_core_and_actors_never_import_the_testing_package(folder):
    files = sorted((PACKAGE / folder).rglob("*.py"))
    assert len(files) > 10
    offenders = {str(path.relative_to(PACKAGE)): imports_of_testing(imports_of(path)) for path in files}
    assert {name: found for name, found in offenders.items() if found} == {}


@pytest.mark.parametrize("source, module, is_package", [
    ("def build():\n    from nommer.testing.faults import wrap\n", "nommer.core.backends", True),
    ("import nommer.testing.media as media\n", "nommer.actors.scaler", False),
    ("from ..testing import faults\n", "nommer.core.retrying", False),
    ("from ...testing.faults import wrap\n", "nommer.core.backends.local", False),
    ("from .. import testing\n", "nommer.actors.scaler", False),
])
def test_the_import_scan_finds_every_form_of_import(source, module, is_package):
    assert imports_of_testing(imported_modules(source, module, is_package))


def test_the_import_scan_leaves_other_imports_alone():
    names = imported_modules("from . import local\nfrom ..errors import ConfigError\n",
                             "nommer.core.backends", is_package=True)
    assert names == ["nommer.core.backends", "nommer.core.backends.local",
                     "nommer.core.errors", "nommer.core.errors.ConfigError"]
    assert imports_of_testing(names) == []


def test_the_encoder_and_the_feeder_never_test_the_backend_name():
    files = [PACKAGE / "encoder.py", PACKAGE / "feeder.py", *sorted((PACKAGE / "actors").rglob("*.py"))]
    tests = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Compare) and any(
                    isinstance(part, ast.Attribute) and part.attr == "backend"
                    for part in [node.left, *node.comparators]):
                tests.append(f"{path.name}:{node.lineno}")
    assert tests == []


def test_every_backend_the_settings_allow_has_its_profile():
    [backend] = [s for s in config_mod.SETTINGS if s.name == "backend"]
    assert set(backend.choices) == set(backends.PROFILES)
    for name in backend.choices:
        config = config_mod.load(environ={}, overrides={"backend": name})
        assert backends.profile(config).name == name


def test_the_local_profile_keeps_pid_files_and_clears_dead_work_folders(tmp_path):
    config = local_config(tmp_path)
    profile = backends.profile(config)
    dead = pathlib.Path(config.work_dir) / "job1-1-gone-42"
    dead.mkdir(parents=True)
    release = profile.prepare_machine(config, "here-1", log.get("test"))
    pid_file = pid_dir(config) / "encoder-here-1.pid"
    assert pid_file.read_text() == str(os.getpid())
    assert not dead.exists()
    release()
    assert not pid_file.exists()


def test_locally_the_encoder_is_its_process_and_its_machine_stays(tmp_path):
    config = local_config(tmp_path)
    profile = backends.profile(config)
    same, encoder_id = profile.identify(config, None)
    assert same is config and encoder_id.endswith(f"-{os.getpid()}")
    assert profile.identify(config, "given")[1] == "given"
    assert profile.end_machine(config, encoder_id) is False
    assert profile.spot_watch(config, log.get("test")) == (None, "")
    assert profile.cost_instance_type(config) == "local"


def test_the_adapter_hook_setting_puts_faults_under_the_retries(tmp_path):
    config = local_config(tmp_path, adapter_hook="nommer.testing.faults", fault_rate=0.1)
    parts = backends.build(config)
    try:
        assert isinstance(parts.store, RetryingStore) and isinstance(parts.store.inner, Faulty)
        calls = 0
        while parts.faults.injected < 3 and calls < 2000:
            assert parts.store.counts() is not None  # every call comes through, retried
            calls += 1
        assert parts.faults.injected >= 3
    finally:
        parts.close()


def test_without_the_hook_the_adapters_are_plain(tmp_path):
    parts = backends.build(local_config(tmp_path, adapter_hook="nommer.testing.faults"))
    try:
        assert not isinstance(parts.store.inner, Faulty)  # fault_rate 0: the hook leaves them
    finally:
        parts.close()
    parts = backends.build(local_config(tmp_path))
    try:
        assert not isinstance(parts.store.inner, Faulty)
    finally:
        parts.close()


@pytest.mark.parametrize("settings, message", [
    ({"fault_rate": 0.1}, "setting 'fault_rate': faults are injected by a test hook; "
                          "set 'adapter_hook' to \"nommer.testing.faults\""),
    ({"adapter_hook": "nommer.testing.nowhere"}, "setting 'adapter_hook': cannot import 'nommer.testing.nowhere'"),
    ({"adapter_hook": "json"}, "setting 'adapter_hook': module 'json' has no wrap_adapters(parts, config)"),
])
def test_a_hook_that_cannot_be_had_stops_the_build_naming_the_setting(tmp_path, settings, message):
    with pytest.raises(ConfigError) as e:
        backends.build(local_config(tmp_path, **settings))
    assert message in str(e.value)
    assert not (tmp_path / "data" / "nommer.sqlite3").exists()


def test_an_adapter_hook_must_be_a_module_name():
    with pytest.raises(ConfigError, match="'adapter_hook'.*must be a Python module name"):
        config_mod.load(environ={"NOMMER_ADAPTER_HOOK": "nommer/testing/faults.py"})
