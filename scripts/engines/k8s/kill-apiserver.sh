#!/usr/bin/env bash
# A fault for tars' reliability tests: kills the kube-apiserver of the cluster up.sh started in
# STATE_DIR with SIGKILL, leaves it down for DOWN_SECONDS, starts it again with the very same
# command line (read from /proc before the kill), and returns when /readyz is ok again.
# Everything else of the cluster keeps running. The new PID goes to STATE_DIR/apiserver.pid,
# so down.sh stops it as usual.
#
#   kill-apiserver.sh STATE_DIR [DOWN_SECONDS]     (default 1; fractions allowed)
#
# Prints one line: how long the apiserver was unreachable, and its new PID.
#   TARS_K8S_TIMEOUT  seconds to wait for /readyz after the restart (default 60)
set -euo pipefail

(($# == 1 || $# == 2)) || { echo "usage: $0 STATE_DIR [DOWN_SECONDS]" >&2; exit 2; }
S=$(cd "$1" && pwd)
DOWN=${2:-1}
TIMEOUT=${TARS_K8S_TIMEOUT:-60}
fail() { echo "kill-apiserver[$S]: FAILED: $*" >&2; exit 1; }

[[ -f $S/apiserver.pid ]] || fail "no apiserver.pid: is the cluster up?"
pid=$(cat "$S/apiserver.pid")
[[ $pid =~ ^[0-9]+$ ]] || fail "apiserver.pid holds '$pid'"
# Only a process started for this STATE_DIR is touched (a reused PID never is).
mapfile -d '' argv <"/proc/$pid/cmdline" || fail "apiserver (pid $pid) is not running"
[[ "${argv[*]}" == *"$S/"* ]] || fail "pid $pid is not this cluster's apiserver"
port=""
for a in "${argv[@]}"; do
  [[ $a == --secure-port=* ]] && port=${a#--secure-port=}
done
[[ -n $port ]] || fail "no --secure-port in the apiserver's command line"

t0=$(date +%s.%N)
kill -KILL "$pid"
while [[ -e /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
  sleep 0.05
done
sleep "$DOWN"
echo "=== $(date -u +%FT%TZ) restarting after SIGKILL (fault test): ${argv[*]}" >>"$S/apiserver.log"
setsid "${argv[@]}" >>"$S/apiserver.log" 2>&1 </dev/null &
echo $! >"$S/apiserver.pid"
disown $!
new=$(cat "$S/apiserver.pid")

TOKEN=$(cat "$S/token")
deadline=$(($(date +%s) + TIMEOUT))
until [[ $(curl -sS --max-time 2 --cacert "$S/ca.crt" -H "Authorization: Bearer $TOKEN" \
  "https://127.0.0.1:$port/readyz" 2>/dev/null) == ok ]]; do
  [[ -e /proc/$new ]] || fail "the restarted apiserver (pid $new) exited; see $S/apiserver.log"
  (($(date +%s) < deadline)) || fail "apiserver not ready ${TIMEOUT}s after its restart"
  sleep 0.2
done
awk -v a="$t0" -v b="$(date +%s.%N)" -v p="$new" \
  'BEGIN{printf "apiserver unreachable for %.1fs; restarted as pid %s\n", b-a, p}'
