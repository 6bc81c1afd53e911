#!/usr/bin/env bash
# Starts a one-node Kubernetes 1.20.2 test cluster on 127.0.0.1 for tars' Kubernetes backend:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and one hollow node
# (`kubemark --morph=kubelet`: registers a node, "runs" pods with a fake runtime).
#
#   up.sh STATE_DIR
#
# Everything lives under STATE_DIR: keys and certificates, the admin token, etcd's data,
# logs (*.log), PIDs (*.pid) and STATE_DIR/kubeconfig (context `tars-test`). A STATE_DIR
# that held a stopped cluster is started again with its data; a new/empty one gives a fresh
# cluster. Stop with down.sh STATE_DIR.
#
# Binaries come from install.sh's cache (${TARS_CACHE:-/var/cache/tars}/k8s-1.20.2/bin);
# run install.sh first.
#
# Environment (all optional):
#   TARS_K8S_PORT            apiserver HTTPS port            (default 6443)
#   TARS_K8S_ETCD_PORT       etcd client port                (default 2379)
#   TARS_K8S_ETCD_PEER_PORT  etcd peer port                  (default TARS_K8S_ETCD_PORT + 1)
#   TARS_K8S_KUBELET_PORT    hollow kubelet's server port    (default 10250)
#   TARS_K8S_NODE_NAME       node name                       (default tars-node-0)
#   TARS_K8S_TIMEOUT         overall seconds to wait for readiness, all attempts (default 120)
#   TARS_K8S_ATTEMPTS        start attempts when a component dies while starting (default 2)
#   TARS_K8S_NODE_RESTARTS   restarts of the hollow node if it dies later (default 3; each is
#                            logged and counted in STATE_DIR/node.restarts; see hollow-node.sh)
# Two clusters can run side by side with distinct STATE_DIRs and distinct ports. The
# controller-manager and scheduler serve no port at all (--port=0 --secure-port=0).
#
# Ready means: apiserver /readyz is ok, the node is Ready and the `default` service account
# exists (so pods can be created). Waits use curl with the admin token, not kubectl.
set -euo pipefail

K8S_VERSION=1.20.2
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${TARS_CACHE:-/var/cache/tars}/k8s-${K8S_VERSION}/bin
PORT=${TARS_K8S_PORT:-6443}
ETCD_PORT=${TARS_K8S_ETCD_PORT:-2379}
ETCD_PEER_PORT=${TARS_K8S_ETCD_PEER_PORT:-$((ETCD_PORT + 1))}
KUBELET_PORT=${TARS_K8S_KUBELET_PORT:-10250}
NODE=${TARS_K8S_NODE_NAME:-tars-node-0}
TIMEOUT=${TARS_K8S_TIMEOUT:-120}
ATTEMPTS=${TARS_K8S_ATTEMPTS:-2}
NODE_RESTARTS=${TARS_K8S_NODE_RESTARTS:-3}
COMPONENTS=(etcd apiserver controller-manager scheduler node)

(($# == 1)) || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
mkdir -p "$1"
S=$(cd "$1" && pwd)

T0=$(date +%s.%N)
el() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "up[$S] +$(el): $*"; }
fail() { echo "up[$S] +$(el): FAILED: $*" >&2; }

[[ -f ${BIN%/bin}/COMPLETE ]] || { fail "no complete binary cache in ${BIN%/bin}; run $HERE/install.sh"; exit 1; }

# ours PID: the process exists, is not a zombie, and was started for this STATE_DIR
ours() {
  local cmdline
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmdline == *"$S/"* ]]
}

for c in "${COMPONENTS[@]}"; do
  if [[ -f $S/$c.pid ]] && ours "$(cat "$S/$c.pid")"; then
    fail "$c is already running (pid $(cat "$S/$c.pid")); run $HERE/down.sh $S first"
    exit 1
  fi
done

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- one-time material: keys, certificates, token, kubeconfig --------------------------------
umask 077
if [[ ! -f $S/ca.crt || ! -f $S/serving.crt || ! -f $S/sa.key || ! -f $S/token ]]; then
  log "generating CA, serving certificate, service-account key and admin token"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$S/ca.key" -out "$S/ca.crt" -days 3650 \
    -subj "/CN=tars-test-ca" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$S/serving.key" -out "$S/serving.csr" \
    -subj "/CN=kube-apiserver" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
    >"$S/serving.ext"
  openssl x509 -req -in "$S/serving.csr" -CA "$S/ca.crt" -CAkey "$S/ca.key" -CAcreateserial \
    -out "$S/serving.crt" -days 3650 -extfile "$S/serving.ext" 2>/dev/null
  rm -f "$S/serving.csr" "$S/serving.ext" "$S/ca.srl"
  openssl genrsa -out "$S/sa.key" 2048 2>/dev/null
  openssl rsa -in "$S/sa.key" -pubout -out "$S/sa.pub" 2>/dev/null
  openssl rand -hex 24 >"$S/token"
fi
TOKEN=$(cat "$S/token")
# Static token file: one identity, cluster-admin (system:masters). The controller-manager,
# the scheduler and the hollow node use it too: a test cluster, not a secure one.
printf '%s,tars-admin,tars-admin,system:masters\n' "$TOKEN" >"$S/tokens.csv"

# The kubeconfig verifies the apiserver against the cluster's own CA (ca.crt), which signed a
# serving certificate for 127.0.0.1 and localhost. No insecure-skip-tls-verify is needed.
# If a client cannot verify a certificate for an IP address, point it at https://localhost:PORT
# rather than switching verification off.
cat >"$S/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: tars-test
  cluster:
    server: https://127.0.0.1:${PORT}
    certificate-authority-data: $(base64 -w0 <"$S/ca.crt")
users:
- name: tars-admin
  user:
    token: ${TOKEN}
contexts:
- name: tars-test
  context: {cluster: tars-test, user: tars-admin, namespace: default}
current-context: tars-test
KC
umask 022

API=https://127.0.0.1:$PORT
api() { curl -sS --max-time 5 --cacert "$S/ca.crt" -H "Authorization: Bearer $TOKEN" "$@"; }

# --- start / wait / stop ---------------------------------------------------------------------
# start NAME BINARY ARGS...: detached (own session), output to NAME.log, pid to NAME.pid.
start() {
  local name=$1 bin=$2
  shift 2
  {
    echo "=== $(date -u +%FT%TZ) starting $bin $*"
  } >>"$S/$name.log"
  setsid "$BIN/$bin" "$@" >>"$S/$name.log" 2>&1 </dev/null &
  echo $! >"$S/$name.pid"
  disown $! # no job-status noise from this shell; the process is still reaped
}

# the first component that is not running, if any
dead_component() {
  local c
  for c in "${COMPONENTS[@]}"; do
    [[ -f $S/$c.pid ]] || continue
    ours "$(cat "$S/$c.pid")" || { echo "$c"; return 0; }
  done
  return 1
}

DEADLINE=$(($(date +%s) + TIMEOUT))
REASON=
NODE_SINCE=
# wait_for WHAT CMD...: poll CMD until it succeeds; fail if a component dies or time runs out.
wait_for() {
  local what=$1 dead
  shift
  until "$@" >/dev/null 2>&1; do
    if dead=$(dead_component); then REASON="$dead exited while waiting for $what"; return 1; fi
    if (($(date +%s) >= DEADLINE)); then REASON="timed out (${TIMEOUT}s overall) waiting for $what"; return 1; fi
    sleep 0.3
  done
  log "$what"
}

etcd_healthy() { curl -sS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
api_ready() { [[ $(api "$API/readyz") == ok ]]; }
# Ready, with a heartbeat from the node started now (not a stale Ready from a previous run
# of this STATE_DIR: a node is only marked NotReady 40 s after its kubelet stops).
node_ready() {
  api "$API/api/v1/nodes/$NODE" | jq -e --arg since "$NODE_SINCE" \
    '.status.conditions[]? | select(.type == "Ready") | .status == "True" and .lastHeartbeatTime >= $since' |
    grep -q true
}
sa_exists() { api -f "$API/api/v1/namespaces/default/serviceaccounts/default"; }

attempt() {
  local p
  for p in "$PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "$KUBELET_PORT"; do
    if port_busy "$p"; then REASON="port 127.0.0.1:$p is already in use"; return 1; fi
  done

  start etcd etcd --name=tars --data-dir="$S/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="tars=http://127.0.0.1:$ETCD_PEER_PORT"
  wait_for "etcd healthy" etcd_healthy || return 1

  start apiserver kube-apiserver --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$PORT" --insecure-port=0 --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file="$S/serving.crt" --tls-private-key-file="$S/serving.key" --cert-dir="$S/certs" \
    --token-auth-file="$S/tokens.csv" --authorization-mode=RBAC --allow-privileged=true \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$S/sa.pub" \
    --service-account-signing-key-file="$S/sa.key" --service-cluster-ip-range=10.96.0.0/16 \
    --profiling=false
  wait_for "apiserver /readyz ok" api_ready || return 1

  start controller-manager kube-controller-manager --kubeconfig="$S/kubeconfig" \
    --bind-address=127.0.0.1 --port=0 --secure-port=0 --leader-elect=false \
    --use-service-account-credentials=false --service-account-private-key-file="$S/sa.key" \
    --root-ca-file="$S/ca.crt" --cluster-signing-cert-file="$S/ca.crt" \
    --cluster-signing-key-file="$S/ca.key" --profiling=false
  start scheduler kube-scheduler --kubeconfig="$S/kubeconfig" \
    --bind-address=127.0.0.1 --port=0 --secure-port=0 --leader-elect=false --profiling=false
  rm -rf "$S/node-tmp" "$S/node.restarts"
  mkdir -p "$S/node-tmp"
  NODE_SINCE=$(date -u +%FT%TZ)
  # In a /tmp of its own, restarted if it dies: see hollow-node.sh.
  echo "=== $(date -u +%FT%TZ) starting kubemark (hollow node, at most $NODE_RESTARTS restarts)" >>"$S/node.log"
  local private=(unshare --mount --propagation private)
  ((EUID == 0)) || private=()
  setsid "${private[@]}" "$HERE/hollow-node.sh" "$S" "$NODE_RESTARTS" \
    "$BIN/kubemark" --morph=kubelet --name="$NODE" \
    --kubeconfig="$S/kubeconfig" --kubelet-port="$KUBELET_PORT" --kubelet-read-only-port=0 \
    >>"$S/node.log" 2>&1 </dev/null &
  echo $! >"$S/node.pid"
  disown $!
  wait_for "node $NODE Ready" node_ready || return 1
  wait_for "service account default/default exists (controller-manager works)" sa_exists || return 1
}

tail_logs() {
  local c
  for c in "${COMPONENTS[@]}"; do
    [[ -f $S/$c.log ]] || continue
    echo "----- last 15 lines of $S/$c.log" >&2
    tail -n 15 "$S/$c.log" >&2
  done
}

log "starting Kubernetes ${K8S_VERSION} on $API (etcd :$ETCD_PORT, node $NODE)"
n=1
while :; do
  if attempt; then break; fi
  fail "attempt $n/$ATTEMPTS: $REASON"
  if ((n >= ATTEMPTS)) || (($(date +%s) >= DEADLINE)) || [[ $REASON == port* ]]; then
    tail_logs
    "$HERE/down.sh" "$S" >&2 || true
    exit 1
  fi
  "$HERE/down.sh" "$S" || true
  n=$((n + 1))
  log "retrying (attempt $n/$ATTEMPTS)"
done

rss_total=0
rss=()
for c in "${COMPONENTS[@]}"; do
  kb=0
  # the node's pid is hollow-node.sh's; kubemark is its child
  for p in $(cat "$S/$c.pid") $(pgrep -P "$(cat "$S/$c.pid")" || true); do
    kb=$((kb + $(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  rss_total=$((rss_total + kb))
  rss+=("$c $((kb / 1024))")
done
log "ready: KUBECONFIG=$S/kubeconfig (context tars-test); RSS MiB: ${rss[*]}; total $((rss_total / 1024))"
