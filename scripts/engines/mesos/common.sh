# shellcheck shell=bash disable=SC2034
# Shared by install.sh, up.sh and down.sh (sourced, not run). Bash, `set -euo pipefail` in callers.
#
# One place for the Mesos version, where the cache lives and what it holds, so the three scripts
# cannot disagree.

MESOS_VERSION=1.11.0
# PyPI `mesos.scheduler` 1.11.0 (sdist `mesos.scheduler-1.11.0.linux-x86_64.tar.gz`, a Python 2.7
# binary tarball). Its `_scheduler.so` is the whole of libmesos 1.11.0, master and agent included.
MESOS_PYPI_REQUIREMENT="mesos.scheduler===${MESOS_VERSION}.linux-x86_64"
MESOS_PYPI_SHA256=1d376f20bca6d05ee8b90c1c123a452b28753497ccc2f1c80ea3ac94c12e8f6e
MESOS_LIB_SHA256=84d7ee9af27e912636b139de40257df1ee4f56c201de6bba834278aa1e8fd64c

MESOS_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MESOS_CACHE_ROOT="${TARS_CACHE:-/var/cache/tars}"
MESOS_CACHE="${MESOS_CACHE_ROOT}/mesos-${MESOS_VERSION}"
MESOS_LIB="${MESOS_CACHE}/lib/libmesos-${MESOS_VERSION}.so"
MESOS_LAUNCHER="${MESOS_CACHE}/bin/tars-mesos-local"
MESOS_CONTAINERIZER="${MESOS_CACHE}/bin/mesos-containerizer"
# Written last by install.sh; holds the stamp below. No marker or another stamp: the cache is redone.
MESOS_MARKER="${MESOS_CACHE}/.complete"

# What a cache was built from: the pinned artifact and every input of the build. Changing a shim
# source, the import list or install.sh invalidates the cache.
mesos_cache_stamp() {
  {
    echo "mesos ${MESOS_VERSION} ${MESOS_PYPI_SHA256} ${MESOS_LIB_SHA256}"
    (cd "$MESOS_SCRIPTS_DIR" && sha256sum install.sh shim/*)
  } | sha256sum | cut -d' ' -f1
}

mesos_cache_ready() {
  [[ -f "$MESOS_MARKER" ]] && [[ "$(cat "$MESOS_MARKER")" == "$(mesos_cache_stamp)" ]]
}

log() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Milliseconds since the epoch (for durations).
now_ms() { date +%s%3N; }

# The start time of a live process in clock ticks since boot (field 22 of /proc/PID/stat), so a
# PID file is not fooled by a reused PID. Empty if there is no such process or it is a zombie (dead:
# whoever inherited it may never reap it).
proc_starttime() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  # Field 2 (comm) may contain spaces; everything after the last ')' is space-separated.
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  [[ "$1" == Z ]] || echo "${20}"
}

# mesos_stop PID STARTTIME TIMEOUT_SECONDS: SIGTERM, wait, SIGKILL after the timeout, wait again.
# Does nothing if PID is not (any more) the process that started at STARTTIME.
mesos_stop() {
  local pid=$1 start=$2 timeout=$3 deadline
  [[ -n "$start" && "$(proc_starttime "$pid")" == "$start" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$(($(now_ms) + timeout * 1000))
  while [[ "$(proc_starttime "$pid")" == "$start" ]]; do
    if (($(now_ms) >= deadline)); then
      log "pid $pid still running ${timeout}s after SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$(($(now_ms) + 10000))
      while [[ "$(proc_starttime "$pid")" == "$start" ]]; do
        (($(now_ms) < deadline)) || { log "error: pid $pid survives SIGKILL"; return 1; }
        sleep 0.1
      done
      return 0
    fi
    sleep 0.1
  done
}
