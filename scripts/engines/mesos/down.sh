#!/usr/bin/env bash
# down.sh STATE_DIR: stops the Mesos process that up.sh STATE_DIR started, by the PID in
# STATE_DIR/mesos.pid (checked against the process' start time, so a reused PID is never hit):
# SIGTERM (the launcher shuts the master and the agent down cleanly), then SIGKILL if it is still
# there after TARS_MESOS_STOP_TIMEOUT seconds (default 20). Idempotent: nothing running is fine.
#
# Executors and tasks run in sessions of their own and are not children of that PID, and they
# outlive the agent (see README.md). down.sh then stops them too, the same way (their PIDs found by
# working directory, see below), unless TARS_MESOS_KEEP_TASKS=1 (to try agent recovery by hand).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

(($# == 1)) || die "usage: ${0##*/} STATE_DIR"
[[ -d "$1" ]] || { log "nothing to stop: $1 does not exist"; exit 0; }
state_dir="$(cd "$1" && pwd)"
pid_file="$state_dir/mesos.pid"
timeout="${TARS_MESOS_STOP_TIMEOUT:-20}"
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || die "TARS_MESOS_STOP_TIMEOUT=$timeout is not a positive integer"

if [[ ! -f "$pid_file" ]]; then
  log "not running (no $pid_file)"
else
  read -r pid start _port <"$pid_file" || true
  if [[ -z "${start:-}" || "$(proc_starttime "${pid:-0}")" != "$start" ]]; then
    log "not running (pid ${pid:-?} from $pid_file is gone)"
  else
    stop_ms=$(now_ms)
    mesos_stop "$pid" "$start" "$timeout" || die "could not stop pid $pid"
    log "stopped pid $pid in $(($(now_ms) - stop_ms))ms"
  fi
  rm -f "$pid_file"
fi

# Executors and their tasks left behind: processes whose working directory is a sandbox under
# STATE_DIR (an executor starts in its sandbox, in a session of its own), and every process of
# their sessions. The caller's own session is never touched.
mapfile -t left < <(
  own_sid="$(ps -o sid= -p $$ | tr -d ' ')"
  declare -A sids=()
  for cwd in /proc/[0-9]*/cwd; do
    target="$(readlink "$cwd" 2>/dev/null)" || continue
    [[ "$target" == "$state_dir"/mesos/work/agents/*/work/slaves/* ]] || continue
    p="${cwd#/proc/}"
    sid="$(ps -o sid= -p "${p%/cwd}" | tr -d ' ')" || continue
    [[ -n "$sid" && "$sid" != "$own_sid" ]] && sids[$sid]=1
  done
  ((${#sids[@]})) || exit 0
  ps -eo pid=,sid= | while read -r p sid; do
    [[ -n "${sids[$sid]:-}" ]] && echo "$p"
  done
)
if ((${#left[@]})); then
  if [[ "${TARS_MESOS_KEEP_TASKS:-}" == 1 ]]; then
    log "leaving executors and tasks running (TARS_MESOS_KEEP_TASKS=1): ${left[*]}"
  else
    log "stopping executors and tasks left behind: ${left[*]}"
    for p in "${left[@]}"; do
      mesos_stop "$p" "$(proc_starttime "$p")" "$timeout" &
    done
    wait
  fi
fi
