"""The wheelhouse builder: nommer's own wheel from its source tree, and a
clear error when pip cannot get the dependencies. (Publishing and booting from
it: tests/aws/test_bootstrap.py.)"""

import configparser
import email
import sys
import zipfile

import pytest

import nommer
from nommer.core.deploy import wheelhouse
from nommer.core.errors import ConfigError


def test_nommer_wheel_holds_the_package_its_metadata_and_the_deploy_files(tmp_path):
    path = wheelhouse.build_own_wheel(tmp_path)
    assert path.name == f"nommer-{nommer.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        info = f"nommer-{nommer.__version__}.dist-info"
        metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        record = wheel.read(f"{info}/RECORD").decode()
    assert {"nommer/encoder.py", "nommer/core/deploy/wheelhouse.py", "nommer/cli/aws.py"} <= names
    data = f"nommer-{nommer.__version__}.data/data/share/nommer/"
    assert {data + "bootstrap-encoder.sh", data + "s3-fetch.py", data + "nommer-feeder.service",
            data + "cloudformation/nommer.yaml"} <= names
    assert not any("__pycache__" in n for n in names)
    setup = configparser.ConfigParser()
    setup.read(wheelhouse.source_root() / "setup.cfg")
    wanted = [r.strip() for r in setup["options"]["install_requires"].splitlines() if r.strip()]
    assert metadata.get_all("Requires-Dist") == wanted
    assert metadata["Version"] == nommer.__version__
    assert "nommer-encoder = nommer.encoder:main" in entry_points
    assert all(line.split(",")[0] in names for line in record.splitlines())


def test_a_download_pip_cannot_do_is_an_error_saying_so(tmp_path, monkeypatch):
    own = wheelhouse.build_own_wheel(tmp_path)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(wheelhouse.PublishError) as e:
        wheelhouse.download(tmp_path / "empty", own, "aarch64", "3.12")
    assert "pip could not download the wheels for aarch64, Python 3.12" in str(e.value)
    assert "--from-installed" in str(e.value)


def test_from_installed_packs_only_this_machines_platform(tmp_path):
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    with pytest.raises(ConfigError) as e:
        wheelhouse.build(tmp_path, arches=(wheelhouse.local_arch(),), pythons=("3.99",),
                         from_installed=True)
    assert f"Python {here}" in str(e.value)
    with pytest.raises(ConfigError) as e:
        wheelhouse.build(tmp_path / "x", arches=("sparc",))
    assert "--arch: 'sparc'" in str(e.value)
