#!/usr/bin/env bash
# Validates every object tars' Kubernetes backend sends against the OpenAPI schemas of current
# Kubernetes (1.33 and 1.37), with kubernetes-validate in strict mode (unknown fields fail).
#
# 1. Creates (only if missing) a venv with kubernetes-validate from PyPI:
#      ${TARS_CACHE:-/var/cache/tars}/kubernetes-validate-1.37.0/venv/
#      ${TARS_CACHE:-/var/cache/tars}/kubernetes-validate-1.37.0/COMPLETE  (written last)
# 2. Renders the objects: `TARS_RENDER_DIR=<tmp> cargo test -p tars-backend-k8s --lib render`
#    (the unit test convert::render_tests writes one YAML file per kind and variant).
# 3. Runs `kubernetes-validate --strict -k <version>` on every file for each version; an error,
#    a warning (such as a kind without a schema in that version) or a missing "passed" line
#    fails the script. Prints the counts.
#
# The bundled schemas start at 1.25, so the batch/v1beta1 CronJob tars sends to 1.20 servers
# cannot be checked here (it has the same fields as batch/v1, which is).
#
# Usage: scripts/engines/k8s/validate.sh   (from anywhere in the checkout)
set -euo pipefail

KV_VERSION=1.37.0
K8S_VERSIONS=(1.33.0 1.37.0)
CACHE=${TARS_CACHE:-/var/cache/tars}/kubernetes-validate-${KV_VERSION}
VENV=$CACHE/venv
MARKER=$CACHE/COMPLETE
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

T0=$(date +%s)
log() { echo "validate[k8s] +$(($(date +%s) - T0))s: $*"; }
die() { echo "validate[k8s] FAILED after $(($(date +%s) - T0))s: $*" >&2; exit 1; }

if [[ ! -f $MARKER || ! -x $VENV/bin/kubernetes-validate ]]; then
  log "installing kubernetes-validate==$KV_VERSION into $VENV"
  rm -rf "$VENV" "$MARKER"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV" || die "python3 -m venv $VENV"
  nice -n 19 "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KV_VERSION" || die "pip install kubernetes-validate==$KV_VERSION"
  "$VENV/bin/kubernetes-validate" --version >/dev/null || die "kubernetes-validate does not run"
  date -u +%FT%TZ >"$MARKER"
fi
KV=$VENV/bin/kubernetes-validate
log "using $("$KV" --version 2>&1 | tail -n1)"

OUT=$(mktemp -d -t tars-render.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
log "rendering into $OUT"
(cd "$ROOT" && TARS_RENDER_DIR=$OUT nice cargo test --quiet -p tars-backend-k8s --lib render) \
  || die "rendering (cargo test -p tars-backend-k8s --lib render)"
shopt -s nullglob
FILES=("$OUT"/*.yaml)
((${#FILES[@]} > 0)) || die "the render test wrote no file into $OUT"
log "rendered ${#FILES[@]} objects: $(cd "$OUT" && echo *.yaml)"

FAILED=0
CHECKS=0
for v in "${K8S_VERSIONS[@]}"; do
  for f in "${FILES[@]}"; do
    CHECKS=$((CHECKS + 1))
    # A kind without a schema is only a WARN with exit 0: require an explicit "passed".
    if out=$("$KV" --strict -k "$v" "$f" 2>&1) && grep -q ' passed for resource ' <<<"$out" \
      && ! grep -q '^WARN' <<<"$out"; then
      echo "  ok    $v $(basename "$f")"
    else
      FAILED=$((FAILED + 1))
      echo "  FAIL  $v $(basename "$f")"
      sed 's/^/        /' <<<"$out"
    fi
  done
done
log "$((CHECKS - FAILED)) of $CHECKS checks passed (${#FILES[@]} objects x ${#K8S_VERSIONS[@]} versions: ${K8S_VERSIONS[*]})"
((FAILED == 0)) || die "$FAILED of $CHECKS checks failed"
