#!/usr/bin/env bash
# A fault for tars' reliability tests: kills the Mesos process that up.sh started in STATE_DIR
# (master and agent share it) with SIGKILL, leaves it down for DOWN_SECONDS, and starts it again
# with up.sh on the same STATE_DIR, which returns once the agent is registered. Executors and
# their tasks are not children of that process and keep running; the restarted agent recovers
# the checkpointed ones. The master's registry is in memory: it learns frameworks again when
# they re-subscribe and tasks when the agent re-registers.
#
#   kill-mesos.sh STATE_DIR [DOWN_SECONDS]     (default 1; fractions allowed)
#
# Prints one line: how long the master was unreachable, and the new PID. The executor up.sh
# installs is the one already in STATE_DIR/libexec (no build); TARS_MESOS_PORT and the other
# TARS_MESOS_* settings must be those of the first start (read from the environment, as up.sh).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

(($# == 1 || $# == 2)) || die "usage: ${0##*/} STATE_DIR [DOWN_SECONDS]"
S=$(cd "$1" && pwd)
DOWN=${2:-1}
[[ -f $S/mesos.pid ]] || die "no $S/mesos.pid: is Mesos up?"
read -r pid start port <"$S/mesos.pid" || true
[[ -n "${start:-}" && "$(proc_starttime "${pid:-0}")" == "$start" ]] ||
  die "pid ${pid:-?} of $S/mesos.pid is not running"
[[ "${TARS_MESOS_PORT:-5050}" == "$port" ]] ||
  die "TARS_MESOS_PORT=${TARS_MESOS_PORT:-5050} but this Mesos listens on $port"

t0=$(now_ms)
kill -KILL "$pid"
while [[ "$(proc_starttime "$pid")" == "$start" ]]; do sleep 0.05; done
sleep "$DOWN"
echo "=== $(date -u +%FT%TZ) restarting after SIGKILL (fault test)" >>"$S/mesos.log"
TARS_MESOS_EXECUTOR="$S/libexec/mesos-default-executor" "$(dirname "${BASH_SOURCE[0]}")/up.sh" "$S" >/dev/null
read -r new _ _ <"$S/mesos.pid"
ms=$(($(now_ms) - t0))
echo "Mesos unreachable for $((ms / 1000)).$((ms % 1000 / 100))s; restarted as pid $new"
