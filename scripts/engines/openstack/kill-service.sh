#!/usr/bin/env bash
# A fault for tars' reliability tests: kills one service of the OpenStack that up.sh started in
# STATE_DIR (its whole process group: uWSGI's router and worker with it) with SIGKILL, leaves it
# down for DOWN_SECONDS, and starts it again with the command line up.sh recorded
# (pids/NAME.cmd). An API (nova-api, ...) is back when its port answers; nova-compute when its
# process has run for a second (it then recovers its instances: one caught building is set to
# ERROR, one being deleted is deleted).
#
#   kill-service.sh STATE_DIR NAME [DOWN_SECONDS]     (NAME: nova-api, nova-compute, ...; default 1)
#
# Prints one line: how long the service was down, and its new PID.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

(($# == 2 || $# == 3)) || die "usage: ${0##*/} STATE_DIR NAME [DOWN_SECONDS]"
S=$(cd "$1" && pwd)
name=$2 down=${3:-1}
[[ -f $S/pids/$name.pid && -f $S/pids/$name.cmd ]] || die "no $S/pids/$name.{pid,cmd}: is it up (up.sh)?"
read -r pid start <"$S/pids/$name.pid" || true
[[ -n "${start:-}" && "$(proc_starttime "${pid:-0}")" == "$start" ]] ||
  die "$name (pid ${pid:-?}) is not running"
port=""
if [[ -f $S/ports ]]; then
  # shellcheck disable=SC1091
  source "$S/ports"
  case $name in
    nova-api) port=$OS_PORT_NOVA ;;
    keystone) port=$OS_PORT_KEYSTONE ;;
    placement) port=$OS_PORT_PLACEMENT ;;
    glance) port=$OS_PORT_GLANCE ;;
    neutron) port=$OS_PORT_NEUTRON ;;
  esac
fi

t0=$(now_ms)
kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
# The leader and every member of its group gone (a uWSGI worker outlives its master briefly).
while [[ "$(proc_starttime "$pid")" == "$start" ]] || pgrep -g "$pid" >/dev/null; do sleep 0.05; done
sleep "$down"
echo "=== $(date -u +%FT%TZ) restarting after SIGKILL (fault test)" >>"$S/logs/$name.out"
declare -a cmd=()
eval "cmd=($(<"$S/pids/$name.cmd"))"
"${cmd[@]}" </dev/null >>"$S/logs/$name.out" 2>&1 &
new=$!
restarted=$(now_ms)
echo "$new $(proc_starttime "$new")" >"$S/pids/$name.pid"
deadline=$(($(now_ms) + 120000))
ready() {
  if [[ -n $port ]]; then curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$port/"
  else (($(now_ms) - restarted >= 1000)); fi
}
until ready; do
  [[ -e /proc/$new ]] || die "$name exited after its restart (see $S/logs/$name.out)"
  (($(now_ms) < deadline)) || die "$name not ready 120 s after its restart"
  sleep 0.2
done
ms=$(($(now_ms) - t0))
echo "$name down for $((ms / 1000)).$((ms % 1000 / 100))s; restarted as pid $new"
