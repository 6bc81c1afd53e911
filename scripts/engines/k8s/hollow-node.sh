#!/usr/bin/env bash
# The hollow node of the test cluster (`kubemark --morph=kubelet`), as up.sh starts it: in a
# mount namespace of its own whose /tmp is STATE_DIR/node-tmp, and restarted if it exits.
#
#   unshare --mount --propagation private hollow-node.sh STATE_DIR MAX_RESTARTS KUBEMARK ARGS...
#
# Why a /tmp of its own: kubemark 1.20 puts its fake container runtime's socket at the fixed
# path /tmp/kubelet_remote.sock and its root dir in /tmp/hollow-kubelet.*. Two hollow nodes on
# one machine (CI's cluster and a developer's) would take over each other's socket, and the
# root dirs were never removed. Here both live in STATE_DIR/node-tmp.
#
# Why restarts: a real kubelet runs under a service manager that restarts it when it dies;
# kubemark's hollow kubelet is known to die of Go runtime faults (e.g. "concurrent map read and
# map write" in its fake runtime). When kubemark exits without being asked to, this restarts it
# after 1 s, at most MAX_RESTARTS times, and says so in node.log ("=== hollow node exited") and
# in STATE_DIR/node.restarts (one line per restart), which scripts/test reports. The pods bound
# to the node are then started again by the new kubelet, as after a real kubelet restart.
#
# SIGTERM (down.sh) stops kubemark and then this script; kubemark also gets SIGTERM if this
# script dies (setpriv --pdeathsig), so nothing is left behind.
set -uo pipefail

(($# >= 3)) || { echo "usage: $0 STATE_DIR MAX_RESTARTS KUBEMARK [ARGS...]" >&2; exit 2; }
S=$1 max=$2
shift 2
mkdir -p "$S/node-tmp"
private_tmp() {
  # What it needs under /tmp stays where it is: STATE_DIR, and the directory of the kubemark
  # binary (a TARS_CACHE under /tmp) are bound into node-tmp at their own places first.
  local d
  for d in "$S" "$(dirname "$(readlink -f "$1")")"; do
    [[ $d == /tmp/* ]] || continue
    mkdir -p "$S/node-tmp/${d#/tmp/}"
    mount --bind "$d" "$S/node-tmp/${d#/tmp/}" || return 1
  done
  mount --rbind "$S/node-tmp" /tmp
}
if ! private_tmp "$1"; then
  # Not root (up.sh then starts this without unshare): as before, the host's /tmp.
  echo "=== hollow node: no /tmp of its own (needs root); it shares /tmp/kubelet_remote.sock with any other hollow node"
fi

child=""
stopping=0
on_term() {
  stopping=1
  [[ -n $child ]] && kill -TERM "$child" 2>/dev/null
}
trap on_term TERM INT

restarts=0
while :; do
  setpriv --pdeathsig TERM -- "$@" &
  child=$!
  # `wait` returns early when a trapped signal arrives; wait again for the child's own status.
  wait "$child"
  status=$?
  while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    status=$?
  done
  ((stopping)) && exit 0
  echo "=== $(date -u +%FT%TZ) hollow node exited with status $status (not asked to stop)"
  if ((restarts >= max)); then
    echo "=== hollow node: $restarts restarts already; giving up"
    exit "$status"
  fi
  restarts=$((restarts + 1))
  echo "$(date -u +%FT%TZ) status $status" >>"$S/node.restarts"
  echo "=== hollow node: restart $restarts of at most $max in 1 s"
  sleep 1
  ((stopping)) && exit 0
done
