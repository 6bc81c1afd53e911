#!/usr/bin/env bash
# What an engine's processes were doing, for a failed test run: for each PID file under
# STATE_DIR (*.pid; the first word is the PID), whether that process is still running and, for
# one that is gone, the last lines of its log (the *.log of the same name, under STATE_DIR or
# STATE_DIR/logs). scripts/test calls it before it stops the engines of a run that failed, so the
# CI output says which engine component died and why (the state dirs are removed afterwards).
#
#   report.sh NAME STATE_DIR [LINES]      (LINES of each log, default 25)
set -uo pipefail

(($# == 2 || $# == 3)) || { echo "usage: $0 NAME STATE_DIR [LINES]" >&2; exit 2; }
name=$1 S=$2 lines=${3:-25}
[[ -d $S ]] || exit 0
echo "----- $name ($S): processes"
while IFS= read -r f; do
  c=$(basename "$f" .pid)
  read -r pid _ <"$f" 2>/dev/null || pid=""
  n=$lines
  if [[ $pid =~ ^[0-9]+$ ]] && [[ -e /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
    echo "  $c: running (pid $pid)"
    n=$((lines / 3)) # a live one's last lines, fewer
  else
    echo "  $c: NOT running (pid ${pid:-?})"
  fi
  for log in "$S/$c.log" "$S/logs/$c.log" "$S/logs/$c-uwsgi.log"; do
    [[ -f $log ]] || continue
    echo "  --- last $n lines of $log"
    tail -n "$n" "$log" | cut -c1-400 | sed 's/^/    /'
  done
done < <(find "$S" -maxdepth 2 -name '*.pid' | sort)
# A Kubernetes cluster of scripts/engines/k8s: its nodes' conditions and the pods not running.
kubectl=${TARS_CACHE:-/var/cache/tars}/k8s-1.20.2/bin/kubectl
if [[ -f $S/kubeconfig && -x $kubectl ]]; then
  echo "  --- nodes and their conditions"
  timeout 10 "$kubectl" --kubeconfig "$S/kubeconfig" get nodes \
    -o custom-columns='NAME:.metadata.name,CONDITIONS:.status.conditions[*].type,STATUS:.status.conditions[*].status,TAINTS:.spec.taints[*].key' \
    2>&1 | sed 's/^/    /'
  echo "  --- pods not Running (at most 30)"
  timeout 10 "$kubectl" --kubeconfig "$S/kubeconfig" get pods -A --field-selector=status.phase!=Running \
    2>&1 | head -n 31 | sed 's/^/    /'
  echo "  --- the hollow node's last warnings and errors"
  grep -E '^[EW][0-9]{4} ' "$S/node.log" 2>/dev/null | grep -v clearQuota | tail -n 15 | cut -c1-300 | sed 's/^/    /'
fi
# An OpenStack of scripts/engines/openstack: the servers of every project (what a test left).
if [[ -f $S/adminrc ]]; then
  echo "  --- Nova servers, all projects (at most 30)"
  (. "$S/adminrc" && timeout 30 openstack server list --all-projects --long \
    -c ID -c Name -c Status -c 'Task State' -c Host -c 'Project ID' -f value 2>&1) |
    head -n 30 | cut -c1-300 | sed 's/^/    /'
fi
# The hollow node restarts itself when kubemark dies (scripts/engines/k8s/hollow-node.sh).
if [[ -f $S/node.restarts ]]; then
  echo "  hollow node restarted $(wc -l <"$S/node.restarts") time(s); its fatal lines:"
  grep -E '^(fatal error|panic:|F[0-9]{4} )' "$S/node.log" | head -n 10 | cut -c1-400 | sed 's/^/    /'
fi
exit 0
