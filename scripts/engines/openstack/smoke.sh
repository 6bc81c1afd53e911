#!/usr/bin/env bash
# smoke.sh STATE_DIR: checks a running OpenStack (up.sh STATE_DIR) as tars' backend will use it,
# with python-openstackclient from the venv, as the project and user `tars` (clouds.yaml):
#   1. a Glance image record by nova-docker's convention (container_format docker, named after the
#      container image's repo:tag; 1 MiB of zeros as data: the fake driver never reads it);
#   2. a server with no network (compute microversion 2.37, --nic none) on the smallest flavor,
#      waited for until ACTIVE, its tars metadata read back (Nova's metadata keys must match
#      ^[a-zA-Z0-9-_:. ]{1,255}$: no '/', so not the Kubernetes-style label keys);
#   3. the server deleted and waited for until gone (`server show` answers 404), the image deleted.
# Prints the time of each step (openstack CLI calls included: ~1-2 s each). Leaves nothing behind,
# also on failure. TARS_OS_SMOKE_TIMEOUT (default 120 s) bounds each wait.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

(($# == 1)) || die "usage: ${0##*/} STATE_DIR"
S="$(cd "$1" && pwd)"
[[ -f "$S/clouds.yaml" ]] || die "no $S/clouds.yaml: is the stack up (up.sh $S)?"
timeout="${TARS_OS_SMOKE_TIMEOUT:-120}"
export OS_CLIENT_CONFIG_FILE="$S/clouds.yaml" OS_CLOUD=tars PYTHONWARNINGS=ignore
os() { "$OS_VENV/bin/openstack" --os-compute-api-version 2.37 "$@"; }

name="tars-smoke-$$"
image="tars-smoke/busybox:1.36"
work="$(mktemp -d)"
server_id="" image_id=""
cleanup() {
  if [[ -n "$server_id" ]]; then os server delete --wait "$server_id" >/dev/null 2>&1 || true; fi
  if [[ -n "$image_id" ]]; then os image delete "$image_id" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

t=$(now_ms)
os token issue -f value -c id >/dev/null || die "cannot authenticate as tars (clouds.yaml: $S/clouds.yaml)"
log "token issued in $(secs $(($(now_ms) - t))) (one CLI call)"

t=$(now_ms)
head -c 1048576 /dev/zero >"$work/image"
image_id="$(os image create --disk-format raw --container-format docker --file "$work/image" \
  --property tars.managed-by=tars "$image" -f value -c id)"
log "image $image ($image_id, container_format docker) created in $(secs $(($(now_ms) - t)))"

flavors="$(os flavor list -f value -c Name -c RAM --sort-column RAM)" # whole: no SIGPIPE
flavor="${flavors%%$'\n'*}" flavor="${flavor%% *}"
[[ -n "$flavor" ]] || die "no flavor"

# The CLI takes seconds to start and its --wait polls every 5 s; the waits below poll Nova itself
# every 0.2 s with curl and a token, so the times are Nova's.
token="$(os token issue -f value -c id)"
compute_url="$(os catalog show compute -f json -c endpoints | grep -o 'http://127.0.0.1:[0-9]*/v2.1' | head -n1)" \
  || die "no compute endpoint in the catalog"
server_field() { # ID FIELD: prints the field of the server, "404" if there is no such server
  local body code
  body="$(curl -sS --max-time 5 -w '\n%{http_code}' -H "X-Auth-Token: $token" \
    -H 'OpenStack-API-Version: compute 2.37' "$compute_url/servers/$1")" || return 1
  code="${body##*$'\n'}"
  if [[ "$code" == 404 ]]; then echo 404; return 0; fi
  [[ "$code" == 200 ]] || return 1
  "$OS_VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["server"][sys.argv[1]])' "$2" \
    <<<"${body%$'\n'*}"
}

t=$(now_ms)
server_id="$(os server create --image "$image_id" --flavor "$flavor" --nic none \
  --property tars.managed-by=tars --property tars.revision=1 "$name" -f value -c id)"
cli_ms=$(($(now_ms) - t))
deadline=$((t + timeout * 1000))
while status="$(server_field "$server_id" status)"; [[ "$status" != ACTIVE ]]; do
  [[ "$status" != ERROR ]] || die "server $server_id went to ERROR: $(server_field "$server_id" fault)"
  (($(now_ms) < deadline)) || die "server $server_id is $status, not ACTIVE, after ${timeout}s"
  sleep 0.2
done
active_ms=$(($(now_ms) - t))
# Nova's own view: from the server's creation (the API accepted it) to its launch.
created="$(server_field "$server_id" created)" launched="$(server_field "$server_id" OS-SRV-USG:launched_at)"
nova_s="$("$OS_VENV/bin/python" -c 'import sys; from datetime import datetime as d, timezone as z
c = d.fromisoformat(sys.argv[1].replace("Z", "+00:00")); l = d.fromisoformat(sys.argv[2]).replace(tzinfo=z.utc)
print("%.1fs" % (l - c).total_seconds())' "$created" "$launched")"
props="$(os server show "$server_id" -f json -c properties)"
grep -q '"tars.managed-by": "tars"' <<<"$props" || die "server metadata not as sent: $props"
log "server $name ($server_id, flavor $flavor, no network) ACTIVE in $(secs "$active_ms") (the CLI's create call: $(secs "$cli_ms"); Nova: created -> launched_at $nova_s), metadata $(tr -d '\n ' <<<"$props")"

t=$(now_ms)
os server delete "$server_id"
cli_ms=$(($(now_ms) - t))
deadline=$((t + timeout * 1000))
until [[ "$(server_field "$server_id" status)" == 404 ]]; do
  (($(now_ms) < deadline)) || die "server $server_id still exists ${timeout}s after delete"
  sleep 0.2
done
deleted_ms=$(($(now_ms) - t))
server_id=""
log "server deleted and gone (404) in $(secs "$deleted_ms") (the CLI's delete call: $(secs "$cli_ms"))"
os image delete "$image_id"
image_id=""
left="$(os server list -f value -c ID | wc -l)"
((left == 0)) || die "$left servers left in project tars"
log "smoke test passed: create->ACTIVE $(secs "$active_ms") (Nova $nova_s), delete->gone $(secs "$deleted_ms")"
