#!/usr/bin/env bash
# Smoke test of a cluster started by up.sh: namespace, 3-replica Deployment until available,
# plain-JSON GET and list, server-side apply PATCH in JSON (with curl and with kubectl), the
# batch/v1beta1 CronJob API. These JSON calls are what panicked before the reflect2 fix.
# Cleans up its namespace (without waiting for it to go).
#
#   smoke.sh STATE_DIR
#   TARS_K8S_SMOKE_TIMEOUT  seconds to wait for the Deployment (default 120)
set -euo pipefail

K8S_VERSION=1.20.2
BIN=${TARS_CACHE:-/var/cache/tars}/k8s-${K8S_VERSION}/bin
(($# == 1)) || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
S=$(cd "$1" && pwd)
TIMEOUT=${TARS_K8S_SMOKE_TIMEOUT:-120}
NS=tars-smoke

T0=$(date +%s.%N)
el() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "smoke +$(el): $*"; }
die() { echo "smoke +$(el): FAILED: $*" >&2; exit 1; }

export KUBECONFIG=$S/kubeconfig
k() { "$BIN/kubectl" --context tars-test "$@"; }
API=$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}')
TOKEN=$(cat "$S/token")
api() { curl -sS --fail-with-body --max-time 10 --cacert "$S/ca.crt" -H "Authorization: Bearer $TOKEN" -H 'Accept: application/json' "$@"; }
D=$API/apis/apps/v1/namespaces/$NS/deployments

k version --short 2>/dev/null | sed 's/^/smoke: /' || true
k get namespace "$NS" >/dev/null 2>&1 && die "namespace $NS exists already (a previous run still terminating?)"
k create namespace "$NS" >/dev/null
log "namespace $NS created"
k -n "$NS" create deployment web --image=nginx:1.19 --replicas=3 >/dev/null
log "deployment web (3 replicas) created"
deadline=$(($(date +%s) + TIMEOUT))
until [[ $(api "$D/web" | jq -r '.status.availableReplicas // 0') == 3 ]]; do
  (($(date +%s) < deadline)) || { k -n "$NS" get deploy,rs,pods -o wide >&2 || true; die "deployment not available after ${TIMEOUT}s"; }
  sleep 0.5
done
log "deployment web available 3/3"

# plain JSON GET and list (curl and kubectl)
[[ $(api "$D/web" | jq -r .metadata.name) == web ]] || die "JSON GET"
[[ $(api "$D" | jq '.items | length') == 1 ]] || die "JSON list"
[[ $(api "$API/api/v1/namespaces/$NS/pods" | jq '[.items[] | select(.status.phase == "Running")] | length') == 3 ]] ||
  die "JSON pod list: expected 3 Running pods"
[[ $(k -n "$NS" get deployment web -o json | jq -r .spec.replicas) == 3 ]] || die "kubectl get -o json"
log "JSON GET and list ok (curl, kubectl)"

# server-side apply PATCH, JSON body (JSON is YAML), JSON response
body='{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"tars/smoke":"ssa"}},
"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"nginx","image":"nginx:1.19"}]}}}}'
out=$(api -X PATCH -H 'Content-Type: application/apply-patch+yaml' --data-binary "$body" \
  "$D/web?fieldManager=tars-smoke&force=true") || die "server-side apply PATCH: $out"
jq -e '.spec.replicas == 2 and .metadata.labels["tars/smoke"] == "ssa"
  and any(.metadata.managedFields[]; .manager == "tars-smoke" and .operation == "Apply")' <<<"$out" >/dev/null ||
  die "server-side apply result: $out"
log "server-side apply PATCH (curl, JSON) ok"
k -n "$NS" apply --server-side --field-manager=tars-smoke-kubectl --force-conflicts -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: "nginx:1.19"}]}
YAML
[[ $(api "$D/web" | jq -r .spec.replicas) == 3 ]] || die "kubectl apply --server-side"
log "server-side apply (kubectl) ok"

api "$API/apis/batch/v1beta1" | jq -e 'any(.resources[]; .name == "cronjobs")' >/dev/null ||
  die "batch/v1beta1 cronjobs not served"
log "batch/v1beta1 CronJob API served"

k delete namespace "$NS" --wait=false >/dev/null
log "all checks passed"
