"""The wheelhouse encoder instances install nommer from, with no package index.

``nommer aws publish`` builds, for each machine type of the encoders
(``x86_64``, ``aarch64``), a folder holding nommer's own wheel and a wheel of
every dependency for the Pythons the supported images have (3.11: Amazon
Linux 2023's python3.11; 3.12: Ubuntu 24.04's python3), tars it and uploads
it to ``<wheelhouse>/<version>/wheels-<arch>.tar``, beside the bootstrap
script and the standard-library S3 downloader it uses
(``deploy/bootstrap-encoder.sh``, ``deploy/s3-fetch.py``).

nommer's own wheel is built here from its source tree (a pure-Python wheel,
``py3-none-any``, read from setup.cfg), so publishing needs no build backend
and no network for it. Dependencies come either from the package index
(``pip download --only-binary=:all: --platform ... --python-version ...``) or,
with ``from_installed``, from the distributions installed in this Python,
packed back into wheels: for a machine of the encoders' own platform with no
way to the index (and for the tests).
"""

import base64
import configparser
import csv
import hashlib
import importlib.metadata
import io
import os
import pathlib
import platform
import re
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import nommer
from nommer.core.errors import ConfigError, NommerError

ARCHES = ("x86_64", "aarch64")
PYTHONS = ("3.11", "3.12")
# Wheels for glibc 2.34 (Amazon Linux 2023's; Ubuntu 24.04 has 2.39) and
# older. pip takes --platform tags literally, so every one is listed.
GLIBC_MINORS = range(34, 16, -1)


def platforms(arch):
    return [f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS] + [f"manylinux2014_{arch}"]
BOOT_FILES = ("bootstrap-encoder.sh", "s3-fetch.py")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class PublishError(NommerError):
    code = "PUBLISH"


def normalised(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def tarball_key(prefix, version, arch):
    return f"{prefix}{version}/wheels-{arch}.tar"


# -- nommer's own wheel ----------------------------------------------------------------


def source_root():
    """The source tree nommer runs from (the folder of setup.cfg)."""
    root = pathlib.Path(nommer.__file__).resolve().parent.parent
    if not (root / "setup.cfg").is_file():
        raise PublishError(f"publishing needs nommer's source tree, and {root} has no setup.cfg "
                           "(run it from a checkout: pip install -e .)")
    return root


def _dist_name(name):
    return re.sub(r"[-_.]+", "_", name)


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def _write_wheel(path, files, dist_info, compress=zipfile.ZIP_DEFLATED):
    """A wheel at ``path`` from ``files`` (``{archive name: bytes or Path}``),
    with its RECORD written last."""
    rows = []
    with zipfile.ZipFile(path, "w", compress) as wheel:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compress
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            if isinstance(data, pathlib.Path):
                info.external_attr = (stat.S_IFREG | data.stat().st_mode & 0o777) << 16  # ffmpeg runs
                data = data.read_bytes()
            wheel.writestr(info, data, compresslevel=1)
            rows.append(_record_line(name, data))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(rows)
        writer.writerow([f"{dist_info}/RECORD", "", ""])
        wheel.writestr(f"{dist_info}/RECORD", out.getvalue())
    return path


def build_own_wheel(dest):
    """nommer's wheel (``py3-none-any``) from its source tree, in ``dest``."""
    root = source_root()
    setup = configparser.ConfigParser()
    setup.read(root / "setup.cfg")
    version = nommer.__version__
    dist_info = f"nommer-{version}.dist-info"
    files = {}
    for path in sorted((root / "nommer").rglob("*.py")):
        if "__pycache__" not in path.parts:
            files[path.relative_to(root).as_posix()] = path
    for folder, names in setup["options.data_files"].items():
        for name in names.split():
            files[f"nommer-{version}.data/data/{folder}/{pathlib.Path(name).name}"] = root / name
    metadata = ["Metadata-Version: 2.1", "Name: nommer", f"Version: {version}",
                f"Summary: {setup['metadata']['description']}",
                f"Requires-Python: {setup['options']['python_requires']}"]
    metadata += [f"Requires-Dist: {line.strip()}"
                 for line in setup["options"]["install_requires"].splitlines() if line.strip()]
    files[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    files[f"{dist_info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: nommer\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    scripts = setup["options.entry_points"]["console_scripts"].strip()
    files[f"{dist_info}/entry_points.txt"] = f"[console_scripts]\n{scripts}\n".encode()
    return _write_wheel(pathlib.Path(dest) / f"nommer-{version}-py3-none-any.whl", files, dist_info)


# -- dependencies: from the index, or packed from what is installed ------------------------


def download(dest, nommer_wheel, arch, python, pip=None):
    """``pip download`` of every dependency of ``nommer_wheel`` as binary
    wheels for ``arch`` and CPython ``python``, into ``dest``."""
    command = [*(pip or [sys.executable, "-m", "pip"]), "download", "--quiet",
               "--only-binary=:all:", *[f"--platform={tag}" for tag in platforms(arch)],
               "--python-version", python, "--implementation", "cp",
               "--dest", str(dest), str(nommer_wheel)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-6:])
        raise PublishError(f"pip could not download the wheels for {arch}, Python {python} "
                           f"(the index must be reachable, or use --from-installed on a "
                           f"machine of the encoders' platform):\n{tail}")


def _requirements(dist):
    """Names of what ``dist`` needs, without extras' requirements."""
    for requirement in dist.requires or ():
        requirement_part, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        match = _NAME.match(requirement_part)
        if match:
            yield normalised(match.group(1)), bool(marker.strip())


def installed_closure(root="nommer"):
    """The installed distributions nommer needs, nommer excluded."""
    seen, todo, found = {normalised(root)}, [normalised(root)], []
    while todo:
        name = todo.pop()
        dist = importlib.metadata.distribution(name)
        for needed, conditional in _requirements(dist):
            if needed in seen:
                continue
            seen.add(needed)
            try:
                found.append(importlib.metadata.distribution(needed))
            except importlib.metadata.PackageNotFoundError:
                if conditional:  # a marker this Python does not meet
                    continue
                raise PublishError(f"{name} needs {needed}, which is not installed here") from None
            todo.append(needed)
    return found


def _tags(dist):
    wheel_file = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel_file.splitlines()
            if line.startswith("Tag:")]
    if not tags:
        raise PublishError(f"{dist.metadata['Name']} was not installed from a wheel; "
                           "it cannot be packed back into one")
    pythons, abis, plats = ({t.split("-")[i] for t in tags} for i in range(3))
    return "-".join(".".join(sorted(part)) for part in (pythons, abis, plats))


def pack_installed(dist, dest):
    """A wheel of installed distribution ``dist``, from the files its RECORD lists."""
    name, version = dist.metadata["Name"], dist.version
    site = pathlib.Path(dist.locate_file(""))
    prefix = pathlib.Path(sys.prefix)
    dist_info = f"{_dist_name(name)}-{version}.dist-info"
    data_dir = f"{_dist_name(name)}-{version}.data"
    files = {}
    for item in dist.files or ():
        path = pathlib.Path(dist.locate_file(item)).resolve()
        if item.name == "RECORD" or item.suffix == ".pyc" or not path.is_file():
            continue
        try:
            archive = path.relative_to(site.resolve()).as_posix()
        except ValueError:
            try:  # data files (share/...); console scripts are made again at install
                relative = path.relative_to(prefix.resolve())
            except ValueError:
                continue
            if relative.parts[0] != "share":
                continue
            archive = f"{data_dir}/data/{relative.as_posix()}"
        if archive.split("/", 1)[0].endswith(".dist-info"):
            archive = f"{dist_info}/{archive.split('/', 1)[1]}"
        files[archive] = path
    filename = f"{_dist_name(name)}-{version}-{_tags(dist)}.whl"
    return _write_wheel(pathlib.Path(dest) / filename, files, dist_info)


def local_arch():
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


# -- the whole wheelhouse ------------------------------------------------------------------


def build(folder, arches=ARCHES, pythons=PYTHONS, from_installed=False, pip=None):
    """``{arch: tarball path}``: the wheels of each arch tarred, under ``folder``."""
    for arch in arches:
        if arch not in ARCHES:
            raise ConfigError(f"--arch: {arch!r} is not one of {', '.join(ARCHES)}")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if from_installed and (list(arches) != [local_arch()] or sys.platform != "linux"
                           or list(pythons) != [here]):
        raise ConfigError(f"--from-installed packs this machine's wheels: Linux {local_arch()}, "
                          f"Python {here}; asked for {', '.join(arches)}, Python {', '.join(pythons)}")
    folder = pathlib.Path(folder)
    own = build_own_wheel(folder)
    tarballs = {}
    for arch in arches:
        wheels = folder / arch
        wheels.mkdir()
        (wheels / own.name).write_bytes(own.read_bytes())
        if from_installed:
            for dist in installed_closure():
                pack_installed(dist, wheels)
        else:
            for python in pythons:
                download(wheels, own, arch, python, pip)
        tarball = folder / f"wheels-{arch}.tar"
        with tarfile.open(tarball, "w") as tar:
            for wheel in sorted(wheels.iterdir()):
                tar.add(wheel, arcname=wheel.name)
        tarballs[arch] = tarball
    return tarballs


def boot_files():
    """``{name: path}`` of the bootstrap script and its downloader."""
    from nommer.core.adapters.ec2_user_data import deploy_folder

    folder = deploy_folder()
    return {name: folder / name for name in BOOT_FILES}


def publish(wheelhouse, region=None, arches=ARCHES, pythons=PYTHONS, from_installed=False,
            pip=None, client=None, say=lambda text: None):
    """Build the wheelhouse and upload it under ``wheelhouse`` (the setting's
    value, ``s3://bucket/prefix/``); returns the URIs written."""
    from nommer.core import config as config_mod
    from nommer.core.adapters import aws

    if not wheelhouse:
        raise ConfigError("setting 'wheelhouse': is empty; set it (the stack's Wheelhouse "
                          "output, which `nommer aws deploy --write` writes) or give --wheelhouse")
    try:
        wheelhouse = config_mod._check_wheelhouse(wheelhouse)
    except ValueError as e:
        raise ConfigError(f"setting 'wheelhouse': {e}") from None
    bucket, prefix = wheelhouse[5:].split("/", 1)
    version = nommer.__version__
    client = client or aws.client("s3", region)
    written = []
    with tempfile.TemporaryDirectory(prefix="nommer-wheelhouse-") as folder:
        say(f"building the wheelhouse of nommer {version} for {', '.join(arches)}, "
            f"Python {', '.join(pythons)}")
        tarballs = build(folder, arches, pythons, from_installed, pip)
        uploads = [(path, tarball_key(prefix, version, arch)) for arch, path in tarballs.items()]
        uploads += [(path, f"{prefix}{version}/{name}") for name, path in boot_files().items()]
        for path, key in uploads:
            say(f"uploading s3://{bucket}/{key} ({os.path.getsize(path)} bytes)")
            try:
                client.upload_file(str(path), bucket, key)
            except Exception as e:  # boto3's S3UploadFailedError, ClientError, no credentials
                raise PublishError(f"cannot upload s3://{bucket}/{key}: {aws.describe(e)}") from None
            written.append(f"s3://{bucket}/{key}")
    return written


def unpublished(config, client=None):
    """Why encoders of this feeder's version cannot boot from the
    ``wheelhouse`` setting's folder, or None when they can (or it is empty).
    One HeadObject per machine type: s3:GetObject under the wheelhouse."""
    import botocore.exceptions

    from nommer.core.adapters import aws

    if not config.wheelhouse:
        return None
    bucket, prefix = config.wheelhouse[5:].split("/", 1)
    client = client or aws.client("s3", config.aws_region or None)
    problems = []
    for arch in ARCHES:
        key = tarball_key(prefix, nommer.__version__, arch)
        try:
            client.head_object(Bucket=bucket, Key=key)
            return None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            problems.append(f"s3://{bucket}/{key}: {aws.describe(e)}")
    return (f"the wheelhouse holds no wheels of nommer {nommer.__version__} "
            f"({'; '.join(problems)}): encoder instances will fail to boot; run "
            f"`nommer aws publish` (docs/aws.md)")


def warn_if_unpublished(config):
    """Log (not refuse) a wheelhouse encoders cannot boot from: the operator
    may publish right after starting the feeder."""
    import structlog

    problem = unpublished(config)
    if problem:
        structlog.get_logger("nommer.wheelhouse").warning(problem)
    return problem
