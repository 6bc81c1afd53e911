#!/usr/bin/env bash
# Stops the test cluster that up.sh started in STATE_DIR, by PID only: SIGTERM, wait, SIGKILL
# after a timeout (kube-apiserver sometimes stalls on SIGTERM). Clients of the apiserver go
# first, etcd last. Removes the pid files; keeps logs, keys and etcd's data (delete STATE_DIR
# for a fresh cluster next time). Idempotent: nothing running, nothing to do.
#
#   down.sh STATE_DIR
#
# A pid is signalled only if that process still has STATE_DIR in its command line, so a pid
# reused by an unrelated process is never touched.
#   TARS_K8S_STOP_TIMEOUT  seconds to wait after SIGTERM before SIGKILL (default 10)
set -euo pipefail

(($# == 1)) || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[[ -d $1 ]] || { echo "down[$1]: no such directory; nothing to stop"; exit 0; }
S=$(cd "$1" && pwd)
STOP_TIMEOUT=${TARS_K8S_STOP_TIMEOUT:-10}
log() { echo "down[$S]: $*"; }

# ours PID: the process exists and was started for this STATE_DIR
ours() {
  local cmdline
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmdline == *"$S/"* ]]
}

# stop NAME...: SIGTERM all, wait up to STOP_TIMEOUT, SIGKILL the rest, wait until gone.
stop() {
  local c pid pids=() names=() i ticks=0 alive killed=0
  for c in "$@"; do
    [[ -f $S/$c.pid ]] || continue
    pid=$(cat "$S/$c.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$c")
    else
      rm -f "$S/$c.pid"
    fi
  done
  ((${#pids[@]})) || return 0
  while :; do
    alive=()
    for i in "${!pids[@]}"; do
      if ours "${pids[$i]}"; then alive+=("$i"); else rm -f "$S/${names[$i]}.pid"; fi
    done
    ((${#alive[@]})) || break
    if ((!killed && ticks >= STOP_TIMEOUT * 10)); then
      for i in "${alive[@]}"; do
        log "${names[$i]} (pid ${pids[$i]}) still running ${STOP_TIMEOUT}s after SIGTERM: SIGKILL"
        kill -KILL "${pids[$i]}" 2>/dev/null || true
      done
      killed=1
    fi
    sleep 0.1
    ticks=$((ticks + 1))
  done
  log "stopped ${names[*]} in $((ticks / 10)).$((ticks % 10))s"
}

stop node scheduler controller-manager
stop apiserver
stop etcd
rm -rf "$S/node-tmp"
