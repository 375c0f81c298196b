#!/bin/bash
# Installs nommer on a machine of a stock image and starts it under systemd.
# The feeder puts this script in each encoder's user data (cloud-init runs it
# as root); the feeder instance of the CloudFormation stack runs it too.
#
#   bootstrap-encoder.sh --wheelhouse s3://BUCKET/CLUSTER/wheelhouse/ --version 0.1.0
#   bootstrap-encoder.sh --requirement 'nommer==0.1.0'        (from a package index)
#
# Options:
#   --wheelhouse URI   where `nommer aws publish` put the wheels: the script
#                      downloads URI/VERSION/wheels-ARCH.tar and installs from
#                      it alone (pip --no-index), so no package index is needed
#   --version V        nommer's version to install from the wheelhouse
#   --requirement R    without a wheelhouse: what pip installs from the index
#   --role R           encoder (default) or feeder: which nommer process to start
#   --prefix DIR       the virtualenv (default /opt/nommer)
#   --fetcher FILE     s3-fetch.py (default: the one beside this script)
#   --python PY        use this Python (3.11 or later) and install no package
#                      of the distribution (default: install one, see below)
#   --foreground       run the process here instead of under systemd
# NOMMER_BOOTSTRAP_PYTHON sets --python too.
#
# Python: Amazon Linux 2023's python3 is 3.9 for the life of the release, so
# there the script installs python3.11 and python3.11-pip with dnf; Ubuntu
# 24.04's python3 is 3.12, which needs python3-venv from apt. Other systems
# need a python3.11 or later on PATH (or --python).
set -euo pipefail

wheelhouse="" version="" requirement="" role=encoder prefix=/opt/nommer
fetcher="$(dirname "$(readlink -f "$0")")/s3-fetch.py"
python="${NOMMER_BOOTSTRAP_PYTHON:-}" foreground=0

fail() { echo "nommer bootstrap: $*" >&2; exit 1; }
say() { echo "nommer bootstrap: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --wheelhouse) wheelhouse="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --requirement) requirement="$2"; shift 2 ;;
    --role) role="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --fetcher) fetcher="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --foreground) foreground=1; shift ;;
    *) fail "unknown option $1" ;;
  esac
done

case "$role" in encoder|feeder) ;; *) fail "--role is encoder or feeder, not '$role'" ;; esac
if [ -n "$wheelhouse" ]; then
  case "$wheelhouse" in s3://?*) ;; *) fail "--wheelhouse must be an s3:// URI, not '$wheelhouse'" ;; esac
  [ -n "$version" ] || fail "--wheelhouse needs --version"
  [ -f "$fetcher" ] || fail "no $fetcher to download the wheelhouse with"
elif [ -z "$requirement" ]; then
  fail "give --wheelhouse and --version, or --requirement"
fi

# -- a Python of 3.11 or later ------------------------------------------------
if [ -z "$python" ]; then
  . /etc/os-release 2>/dev/null || true
  case "${ID:-}" in
    amzn)
      say "installing python3.11 with dnf"
      dnf install -y -q python3.11 python3.11-pip >&2
      python=python3.11 ;;
    ubuntu|debian)
      say "installing python3-venv with apt"
      export DEBIAN_FRONTEND=noninteractive
      # At first boot unattended-upgrades may hold apt's lock for a while.
      apt-get -o DPkg::Lock::Timeout=600 update -q >&2
      apt-get -o DPkg::Lock::Timeout=600 install -y -q python3-venv >&2
      python=python3 ;;
    *)
      for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null; then python="$candidate"; break; fi
      done ;;
  esac
fi
[ -n "$python" ] && command -v "$python" >/dev/null || fail "no Python found; give --python"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || fail "$python is Python $("$python" -c 'import platform; print(platform.python_version())'); nommer needs 3.11 or later"

# -- nommer in a virtualenv, offline from the wheelhouse ----------------------------
make_venv() {
  "$python" -m venv "$prefix" || fail "$python -m venv failed (Debian and Ubuntu need python3-venv)"
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -n "$wheelhouse" ]; then
  case "$(uname -m)" in
    x86_64|amd64) arch=x86_64 ;;
    aarch64|arm64) arch=aarch64 ;;
    *) fail "no wheelhouse for machine type $(uname -m)" ;;
  esac
  tarball="${wheelhouse%/}/$version/wheels-$arch.tar"
  say "downloading $tarball"
  "$python" "$fetcher" "$tarball" "$work/wheels.tar" \
    || fail "cannot download the wheelhouse; run 'nommer aws publish' for version $version"
  mkdir "$work/wheels"
  tar -xf "$work/wheels.tar" -C "$work/wheels"
  make_venv
  "$prefix/bin/python" -m pip install --quiet --no-index --find-links "$work/wheels" \
    "nommer==$version" >&2
else
  make_venv
  "$prefix/bin/python" -m pip install --quiet --upgrade pip >&2
  "$prefix/bin/python" -m pip install --quiet "$requirement" >&2
fi
say "installed $("$prefix/bin/python" -c 'import nommer; print("nommer", nommer.__version__)')"

# -- start it --------------------------------------------------------------------
if [ "$foreground" = 1 ]; then
  rm -rf "$work"
  trap - EXIT
  exec "$prefix/bin/python" -m "nommer.$role"
fi
id nommer >/dev/null 2>&1 || useradd --system --home-dir /var/lib/nommer --shell /usr/sbin/nologin nommer
mkdir -p /var/lib/nommer
chown nommer:nommer /var/lib/nommer
unit="/etc/systemd/system/nommer-$role.service"
# The encoder's user data writes its unit and drop-in; otherwise the unit
# shipped in the wheel is used.
[ -f "$unit" ] || cp "$prefix/share/nommer/nommer-$role.service" "$unit"
systemctl daemon-reload
systemctl enable --now "nommer-$role.service"
say "nommer-$role.service started"
