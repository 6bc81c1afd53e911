#!/usr/bin/env bash
# Installs a small real OpenStack for tars' OpenStack backend — Keystone, Nova (with the fake virt
# driver), Placement, Glance, Neutron (API server), python-openstackclient and uWSGI — from PyPI,
# every package pinned by constraints.txt, into a venv cached outside the checkout:
#
#   ${TARS_CACHE:-/var/cache/tars}/openstack-nova-34.0.0-py3.11-<sha of constraints.txt>/
#     venv/        the Python virtualenv (not relocatable: it stays where it was built)
#     .complete    written last: a stamp of the key and of this script
#
# plus RabbitMQ (and Erlang) from Debian's archive (`rabbitmq-server`, installed with apt-get if
# missing; never started as a service: up.sh starts it by hand, per STATE_DIR).
#
# Does nothing when .complete matches (prints "already installed"). Otherwise rebuilds the venv from
# scratch. One installer at a time per cache (flock). Needs root only for apt-get.
# Environment: TARS_CACHE (cache root), PYTHON (the interpreter for the venv, default python3).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

started_ms=$(now_ms)
finish() { log "$1 in $(secs $(($(now_ms) - started_ms))): $OS_CACHE"; }

# The WSGI entry points up.sh serves, relative to site-packages: present iff the venv is whole.
WSGI_FILES=(keystone/wsgi/api.py nova/wsgi/osapi_compute.py placement/wsgi/api.py
  glance/wsgi/api.py neutron/wsgi/api.py)

venv_works() {
  local sp
  sp="$("$OS_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)" || return 1
  for f in "${WSGI_FILES[@]}"; do [[ -f "$sp/$f" ]] || return 1; done
  [[ -x "$OS_VENV/bin/uwsgi" && -x "$OS_VENV/bin/openstack" && -x "$OS_VENV/bin/nova-compute" ]]
}

# Debian packages: RabbitMQ (brings Erlang and epmd), and what building uWSGI needs.
ensure_debian_packages() {
  local -a missing=()
  [[ -x "$OS_RABBIT_SERVER" && -x "$OS_EPMD" ]] || missing+=(rabbitmq-server)
  command -v gcc >/dev/null 2>&1 || missing+=(gcc)
  command -v flock >/dev/null 2>&1 || missing+=(util-linux)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v ss >/dev/null 2>&1 || missing+=(iproute2)
  local inc
  inc="$("$OS_PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)" || inc=/nonexistent
  if [[ ! -f "$inc/Python.h" ]]; then
    [[ "$(command -v "$OS_PYTHON")" == /usr/bin/* ]] || die "$OS_PYTHON has no Python.h (needed to build uWSGI)"
    missing+=(python3-dev)
  fi
  "$OS_PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  ((${#missing[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
  # rabbitmq-server's maintainer scripts would start the system service (on 0.0.0.0:5672, as user
  # rabbitmq) unless policy-rc.d forbids it; a machine without one gets a temporary one.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=1
  fi
  log "installing from Debian's archive: ${missing[*]}"
  local apt_ms rc=0
  apt_ms=$(now_ms)
  export DEBIAN_FRONTEND=noninteractive
  { apt-get -o DPkg::Lock::Timeout=300 update -qq &&
    nice -n 19 apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  ((made_policy)) && rm -f "$policy"
  ((rc == 0)) || die "apt-get install ${missing[*]} failed"
  log "Debian packages installed in $(secs $(($(now_ms) - apt_ms)))"
}

if os_cache_ready && venv_works && [[ -x "$OS_RABBIT_SERVER" ]]; then
  finish "already installed (no-op)"
  exit 0
fi

command -v "$OS_PYTHON" >/dev/null 2>&1 || die "no $OS_PYTHON (set PYTHON)"
ensure_debian_packages

mkdir -p "$OS_CACHE_ROOT" || die "cannot create the cache root $OS_CACHE_ROOT (set TARS_CACHE)"
exec 9>"${OS_CACHE}.lock"
flock -w 900 9 || die "another install.sh holds ${OS_CACHE}.lock for more than 15 minutes"
if os_cache_ready && venv_works; then # another install.sh finished it while we waited
  finish "already installed (no-op)"
  exit 0
fi

# A venv cannot be moved, so it is built in place; the marker, written last, says it is whole.
rm -f "$OS_MARKER"
rm -rf "$OS_VENV"
mkdir -p "$OS_CACHE"
pip_log="$OS_CACHE/pip.log"
venv_ms=$(now_ms)
"$OS_PYTHON" -m venv "$OS_VENV" || die "$OS_PYTHON -m venv $OS_VENV failed"
log "installing the pinned packages from PyPI into $OS_VENV (log: $pip_log)"
# Constraints pin every package; the requirements name what the stack runs. No pip cache: the
# venv is the cache. nice: the machine is shared with other builds.
if ! PIP_DISABLE_PIP_VERSION_CHECK=1 nice -n 19 "$OS_VENV/bin/pip" install --no-cache-dir \
  -c "$OS_CONSTRAINTS" \
  "keystone==30.0.0" "nova==$OS_NOVA_VERSION" "openstack-placement==16.0.0" "glance==33.0.0" \
  "neutron==29.0.0" "python-openstackclient==10.5.0" "openstacksdk" "uWSGI==2.0.31" \
  >"$pip_log" 2>&1; then
  tail -n 30 "$pip_log" >&2
  die "pip install failed (above; whole log: $pip_log)"
fi
log "venv installed in $(secs $(($(now_ms) - venv_ms)))"

venv_works || die "the venv lacks a WSGI file or a program up.sh needs (see $pip_log)"
# Every package is the pinned one: the venv's freeze must be a subset of the constraints (names
# compared in PEP 503 form: lower case, runs of -_. as one -).
normalize() { awk -F'==' '{ n = tolower($1); gsub(/[-_.]+/, "-", n); print n "==" $2 }' | sort; }
freeze="$("$OS_VENV/bin/pip" freeze --all 2>/dev/null)" || die "pip freeze failed"
unpinned="$(grep -viE '^(pip|setuptools|wheel)==' <<<"$freeze" | normalize | comm -23 - <(normalize <"$OS_CONSTRAINTS"))"
[[ -z "$unpinned" ]] || die "the venv holds packages or versions not in constraints.txt: $unpinned"
"$OS_VENV/bin/pip" check >>"$pip_log" 2>&1 || log "warning: pip check reports conflicts (see $pip_log)"

os_cache_stamp >"$OS_MARKER.partial"
mv "$OS_MARKER.partial" "$OS_MARKER"
log "cache size: $(du -sh "$OS_CACHE" | cut -f1)"
finish "installed"
