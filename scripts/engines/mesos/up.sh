#!/usr/bin/env bash
# up.sh STATE_DIR: starts Mesos 1.11.0, master and one agent in one process (bin/tars-mesos-local
# from install.sh's cache), listening on 127.0.0.1 only, and returns once the agent is registered.
#
# Everything it writes is under STATE_DIR:
#   mesos.pid        "PID STARTTIME PORT" of the running process (down.sh reads it)
#   mesos.log        the process' log (glog), appended, one "=== attempt" line per start
#   mesos/work/      Mesos' work dirs: master/, agents/0/{work,run,fetch}/ (sandboxes, checkpoints)
#   mesos/store/     image stores (unused: no image provisioning)
#   libexec/         MESOS_LAUNCHER_DIR, where the agent looks for its helpers:
#                      mesos-containerizer     -> the cache's (install.sh): runs every executor
#                      mesos-default-executor  a copy of tars' executor (crate mesos-executor), which
#                                              an ExecutorInfo of type DEFAULT starts
#
# Environment (all optional):
#   TARS_MESOS_PORT           port of the master and the agent (one libprocess socket), default 5050
#   TARS_MESOS_RESOURCES      the agent's resources, default cpus:2;mem:2048;disk:4096;ports:[31000-32000]
#   TARS_MESOS_ATTRIBUTES     the agent's attributes (placement constraints), default os:<uname -s, lower case>
#   TARS_MESOS_LAUNCHER_DIR   MESOS_LAUNCHER_DIR, default STATE_DIR/libexec
#   TARS_MESOS_START_TIMEOUT  seconds one start may take to have its agent registered, default 60
#   TARS_MESOS_START_ATTEMPTS starts tried before giving up, default 3
#   TARS_CACHE                cache root used by install.sh, default /var/cache/tars
#   TARS_MESOS_EXECUTOR       tars' executor binary to install; default: built here with
#                             `cargo build -p tars-mesos-executor` (dev profile) from this checkout
#
# Readiness: /health answers 200, then the operator API (POST /api/v1) reports version 1.11.0
# (GET_VERSION) and one agent (GET_AGENTS); every request has its own timeout, the whole wait an
# overall one. A start that exits or times out is stopped and retried, its reason logged; after
# the last attempt the log's tail is printed and nothing is left running. Already running and
# healthy: prints so and exits 0.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

(($# == 1)) || die "usage: ${0##*/} STATE_DIR"
mkdir -p "$1" || die "cannot create $1"
state_dir="$(cd "$1" && pwd)"
port="${TARS_MESOS_PORT:-5050}"
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  die "TARS_MESOS_PORT=$port is not a port"
fi
resources="${TARS_MESOS_RESOURCES:-cpus:2;mem:2048;disk:4096;ports:[31000-32000]}"
attributes="${TARS_MESOS_ATTRIBUTES:-os:$(uname -s | tr '[:upper:]' '[:lower:]')}"
launcher_dir="${TARS_MESOS_LAUNCHER_DIR:-$state_dir/libexec}"
start_timeout="${TARS_MESOS_START_TIMEOUT:-60}"
attempts="${TARS_MESOS_START_ATTEMPTS:-3}"
if ! [[ "$start_timeout" =~ ^[1-9][0-9]*$ && "$attempts" =~ ^[1-9][0-9]*$ ]]; then
  die "TARS_MESOS_START_TIMEOUT and TARS_MESOS_START_ATTEMPTS must be positive integers"
fi
pid_file="$state_dir/mesos.pid"
log_file="$state_dir/mesos.log"
url="http://127.0.0.1:$port"

mesos_cache_ready \
  || die "Mesos $MESOS_VERSION is not installed (or was built from other sources) in $MESOS_CACHE: run ${MESOS_SCRIPTS_DIR}/install.sh"

# One operator API call; prints the JSON response. Each request has its own timeout: an /api/v1
# request once hung.
api() {
  curl -sS --fail --max-time 5 -X POST -H 'Content-Type: application/json' \
    -H 'Accept: application/json' --data "{\"type\":\"$1\"}" "$url/api/v1"
}
healthy() { curl -s --fail --max-time 2 -o /dev/null "$url/health"; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# Already running?
if [[ -f "$pid_file" ]]; then
  read -r old_pid old_start old_port <"$pid_file" || true
  if [[ -n "${old_start:-}" && "$(proc_starttime "${old_pid:-0}")" == "$old_start" ]]; then
    [[ "$old_port" == "$port" ]] || die "already running (pid $old_pid) on port $old_port, not $port: run down.sh first"
    healthy || die "already running (pid $old_pid) but $url/health does not answer: run down.sh first"
    log "already running: pid $old_pid, $url"
    exit 0
  fi
  rm -f "$pid_file" # stale: that process is gone
fi

port_in_use && die "127.0.0.1:$port is already in use by another process (set TARS_MESOS_PORT)"
mkdir -p "$launcher_dir" "$state_dir/mesos"

# The agent's helpers. The containerizer is a symlink (it finds libmesos through $ORIGIN, which
# the loader resolves through links); the executor is copied, so that a rebuild of the workspace
# does not change the program under running executors.
executor="${TARS_MESOS_EXECUTOR:-}"
if [[ -z "$executor" ]]; then
  repo_root="$(cd "$MESOS_SCRIPTS_DIR/../../.." && pwd)"
  build_ms=$(now_ms)
  (cd "$repo_root" && nice -n 10 cargo build --quiet -p tars-mesos-executor) \
    || die "building tars' executor failed (cargo build -p tars-mesos-executor in $repo_root)"
  executor="${CARGO_TARGET_DIR:-$repo_root/target}/debug/tars-mesos-executor"
  log "tars' executor built in $(($(now_ms) - build_ms))ms"
fi
[[ -x "$executor" ]] || die "tars' executor $executor is not an executable file (TARS_MESOS_EXECUTOR)"
ln -sfn "$MESOS_CONTAINERIZER" "$launcher_dir/mesos-containerizer"
cp -f "$executor" "$launcher_dir/mesos-default-executor.partial"
mv -f "$launcher_dir/mesos-default-executor.partial" "$launcher_dir/mesos-default-executor"

# Starts the process once and waits for it to be ready. Sets pid, reason (on failure), and the
# timings. Returns 1 on a failure worth retrying, 2 on one that is not.
start_once() {
  local start_ms deadline phase response version agents now
  pid="" reason="" health_ms="" agent_ms=""
  if port_in_use; then
    reason="127.0.0.1:$port is already in use by another process (set TARS_MESOS_PORT)"
    return 2
  fi
  printf '=== attempt %s at %s\n' "$1" "$(date -u +%FT%TZ)" >>"$log_file"
  start_ms=$(now_ms)
  # A clean environment: nothing of the caller's (LIBPROCESS_SSL_*, MESOS_*...) leaks in. TMPDIR
  # places Mesos' work dirs: libmesos' local-cluster flags default work_dir to $TMPDIR/mesos/work
  # (master: .../master, agent: .../agents/0/work) and override MESOS_WORK_DIR with it. Executors
  # get only MESOS_EXECUTOR_ENVIRONMENT_VARIABLES (plus Mesos' own variables), not this
  # environment. setsid: a session of its own, so the caller's terminal signals do not reach it.
  env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME="${HOME:-/}" \
    TMPDIR="$state_dir" \
    GLOG_logtostderr=1 \
    LIBPROCESS_IP=127.0.0.1 \
    LIBPROCESS_PORT="$port" \
    MESOS_HOSTNAME=127.0.0.1 \
    MESOS_REGISTRY=in_memory \
    MESOS_LAUNCHER=posix \
    MESOS_ISOLATION=posix/cpu,posix/mem \
    MESOS_SYSTEMD_ENABLE_SUPPORT=false \
    MESOS_SWITCH_USER=false \
    MESOS_LAUNCHER_DIR="$launcher_dir" \
    MESOS_RESOURCES="$resources" \
    MESOS_ATTRIBUTES="$attributes" \
    MESOS_REGISTRATION_BACKOFF_FACTOR=100ms \
    MESOS_EXECUTOR_ENVIRONMENT_VARIABLES='{"PATH":"/usr/local/bin:/usr/bin:/bin"}' \
    setsid "$MESOS_LAUNCHER" </dev/null >>"$log_file" 2>&1 &
  pid=$!
  # The start time does not change across exec, so it can be recorded at once.
  echo "$pid $(proc_starttime "$pid") $port" >"$pid_file"
  # In a non-interactive shell a background job is not a process group leader, so setsid execs
  # the launcher in place (same PID, no fork) and $! is the launcher itself; check, not assume.
  local exe
  exe="$(readlink -f "$MESOS_LAUNCHER")"
  until [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$exe" ]]; do
    if [[ -z "$(proc_starttime "$pid")" ]] || (($(now_ms) - start_ms > 2000)); then
      break # gone: reported below; not the launcher after 2s: the wait below times out
    fi
    sleep 0.01
  done

  deadline=$((start_ms + start_timeout * 1000))
  phase=health
  while :; do
    if [[ -z "$(proc_starttime "$pid")" ]]; then
      local status=0
      wait "$pid" 2>/dev/null || status=$?
      reason="the process exited (status $status) while waiting for $phase"
      return 1
    fi
    now=$(now_ms)
    if ((now >= deadline)); then
      reason="not ready after ${start_timeout}s (waiting for $phase)"
      return 1
    fi
    case $phase in
      health)
        if healthy; then
          health_ms=$((now - start_ms))
          phase="GET_VERSION"
        fi
        ;;
      GET_VERSION)
        if response="$(api GET_VERSION 2>/dev/null)"; then
          version="$(jq -r '.get_version.version_info.version // empty' <<<"$response")"
          if [[ "$version" != "$MESOS_VERSION" ]]; then
            reason="GET_VERSION reports version '${version}', not $MESOS_VERSION: $response"
            return 2
          fi
          phase="GET_AGENTS"
          continue
        fi
        ;;
      GET_AGENTS)
        if response="$(api GET_AGENTS 2>/dev/null)"; then
          agents="$(jq -r '.get_agents.agents | length' <<<"$response")"
          if [[ "$agents" == 1 ]]; then
            agent_ms=$(($(now_ms) - start_ms))
            agent_id="$(jq -r '.get_agents.agents[0].agent_info.id.value' <<<"$response")"
            return 0
          elif [[ "$agents" != 0 ]]; then
            reason="GET_AGENTS reports $agents agents, not 1"
            return 2
          fi
        fi
        ;;
    esac
    sleep 0.1
  done
}

for ((attempt = 1; attempt <= attempts; attempt++)); do
  rc=0
  start_once "$attempt" || rc=$?
  if ((rc == 0)); then
    rss_kib="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")"
    log "Mesos $MESOS_VERSION up: $url (pid $pid, master + agent $agent_id)"
    log "  /health after ${health_ms}ms, agent registered after ${agent_ms}ms, RSS $((rss_kib / 1024)) MiB"
    log "  state $state_dir, log $log_file, launcher dir $launcher_dir"
    exit 0
  fi
  log "attempt $attempt/$attempts failed: $reason"
  echo "=== attempt $attempt failed: $reason" >>"$log_file"
  if [[ -n "$pid" ]]; then
    mesos_stop "$pid" "$(proc_starttime "$pid")" 10 || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  ((rc == 1)) || break
  ((attempt == attempts)) || sleep 1
done
if [[ -f "$log_file" ]]; then
  log "last lines of $log_file:"
  tail -n 25 "$log_file" | cut -c1-300 >&2
fi
die "Mesos did not start"
