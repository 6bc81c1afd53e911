#!/usr/bin/env bash
# down.sh STATE_DIR: stops the OpenStack that up.sh STATE_DIR started, by the PIDs it recorded in
# STATE_DIR/pids/ (each checked against the process' start time, so a reused PID is never hit).
# Each service runs in a session of its own; its whole process group gets SIGTERM (uWSGI's workers
# and router, oslo.service's workers, Erlang's helpers), then SIGKILL if it is still there after
# TARS_OS_STOP_TIMEOUT seconds (default 20). Order: Nova's services and the APIs, then Keystone,
# then RabbitMQ, then its epmd. Last, any process still marked as this stack's (TARS_OS_STATE_DIR
# in its environment, or STATE_DIR in its command line; see common.sh) is stopped the same way.
# Keeps data and logs (up.sh starts afresh anyway). Idempotent: nothing running is fine.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

(($# == 1)) || die "usage: ${0##*/} STATE_DIR"
[[ -d "$1" ]] || { log "nothing to stop: $1 does not exist"; exit 0; }
S="$(cd "$1" && pwd)"
timeout="${TARS_OS_STOP_TIMEOUT:-20}"
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || die "TARS_OS_STOP_TIMEOUT=$timeout is not a positive integer"
started_ms=$(now_ms)

# Live members of process group $1 started no earlier than $2 (clock ticks since boot). A group
# ID cannot be reused while any member lives, so the members of a recorded leader's group are the
# stack's, also when the leader itself died first.
group_members() {
  local p g st
  while read -r p g; do
    [[ "$g" == "$1" ]] || continue
    st="$(proc_starttime "$p")"
    [[ -n "$st" ]] && ((st >= $2)) && echo "$p"
  done < <(ps -eo pid=,pgid=)
  return 0
}

# stop NAME...: SIGTERM to the process group of each recorded leader (or to what is left of its
# group when the leader is gone), wait until every member is gone, SIGKILL what is left after the
# timeout.
stop() {
  local name f pid start now_start members
  local -a pgids=() starts=() names=()
  for name in "$@"; do
    f="$S/pids/$name.pid"
    [[ -f "$f" ]] || continue
    read -r pid start <"$f" || true
    [[ "${pid:-}" =~ ^[0-9]+$ && "${start:-}" =~ ^[0-9]+$ ]] || continue
    now_start="$(proc_starttime "$pid")"
    if [[ "$now_start" == "$start" ]]; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    elif [[ -z "$now_start" ]]; then
      # The leader died (or is a zombie nobody reaped yet): its group may live on (orphaned
      # workers). A reused PID would have another start time, and is left alone below.
      members="$(group_members "$pid" "$start")"
      [[ -n "$members" ]] || continue
      log "$name (pid $pid) is gone; stopping what is left of its process group: $(echo "$members" | tr '\n' ' ')"
      for p in $members; do kill -TERM "$p" 2>/dev/null || true; done
    else
      continue # pid reused by another process: not ours
    fi
    pgids+=("$pid") starts+=("$start") names+=("$name")
  done
  ((${#pgids[@]})) || { for name in "$@"; do rm -f "$S/pids/$name.pid"; done; return 0; }
  local deadline=$(($(now_ms) + timeout * 1000)) killed=0 left i
  while :; do
    left=""
    for i in "${!pgids[@]}"; do left+="$(group_members "${pgids[$i]}" "${starts[$i]}")"$'\n'; done
    left="$(tr -s '\n' ' ' <<<"$left" | sed 's/^ *//; s/ *$//')"
    [[ -z "$left" ]] && break
    if ((!killed && $(now_ms) >= deadline)); then
      log "still running ${timeout}s after SIGTERM: ${names[*]} (pids $left): SIGKILL"
      for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
      killed=1
      deadline=$(($(now_ms) + 10000))
    elif ((killed && $(now_ms) >= deadline)); then
      die "processes survive SIGKILL: $left"
    fi
    sleep 0.1
  done
  for name in "$@"; do rm -f "$S/pids/$name.pid"; done
  [[ -n "${TARS_OS_STOP_QUIET:-}" ]] || log "stopped ${names[*]}"
}

computes=()
for f in "$S"/pids/nova-compute-*.pid; do [[ -f "$f" ]] && computes+=("$(basename "$f" .pid)"); done
stop nova-compute "${computes[@]}" nova-scheduler nova-conductor nova-api neutron glance placement
stop keystone
stop rabbitmq
stop epmd

# Stragglers: anything else with this STATE_DIR's mark (e.g. a worker orphaned by a crash).
mapfile -t left < <(os_marked_pids "$S")
if ((${#left[@]})); then
  log "stopping processes left behind: ${left[*]}"
  for p in "${left[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  deadline=$(($(now_ms) + timeout * 1000))
  while mapfile -t left < <(os_marked_pids "$S") && ((${#left[@]})); do
    if (($(now_ms) >= deadline)); then
      for p in "${left[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
      sleep 0.5
      mapfile -t left < <(os_marked_pids "$S")
      ((${#left[@]} == 0)) || die "processes survive SIGKILL: ${left[*]}"
      break
    fi
    sleep 0.1
  done
fi
[[ -n "${TARS_OS_STOP_QUIET:-}" ]] || log "down in $(secs $(($(now_ms) - started_ms))): $S"
