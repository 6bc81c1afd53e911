#!/usr/bin/env bash
# smoke.sh: checks a running Mesos (up.sh) from outside, with curl only:
#   1. operator API: GET_VERSION is 1.11.0, GET_AGENTS lists one active agent;
#   2. scheduler API: SUBSCRIBE a throw-away framework and, within TARS_MESOS_SMOKE_TIMEOUT seconds
#      (default 20), read SUBSCRIBED and then OFFERS from the RecordIO event stream, then TEARDOWN
#      it (with its Mesos-Stream-Id) so it leaves nothing behind.
# Port: TARS_MESOS_PORT (default 5050). Launches no task: that needs tars' containerizer and
# executor (issue 7).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

port="${TARS_MESOS_PORT:-5050}"
timeout="${TARS_MESOS_SMOKE_TIMEOUT:-20}"
url="http://127.0.0.1:$port"
json=(-H 'Content-Type: application/json' -H 'Accept: application/json')

api() { curl -sS --fail --max-time 5 -X POST "${json[@]}" --data "{\"type\":\"$1\"}" "$url/api/v1"; }

# RecordIO ("<length>\n<bytes>" per record) on stdin, one record per line on stdout; an incomplete
# last record is left out. LC_ALL=C: `read -N` then counts bytes.
recordio_records() {
  local LC_ALL=C len record
  while IFS= read -r len; do
    [[ "$len" =~ ^[0-9]+$ ]] || { log "error: bad RecordIO length line: $len"; return 1; }
    IFS= read -r -N "$len" record || return 0
    ((${#record} == len)) || return 0
    printf '%s\n' "$record"
  done
}

version="$(api GET_VERSION | jq -r '.get_version.version_info.version')"
[[ "$version" == "$MESOS_VERSION" ]] || die "GET_VERSION: '$version', expected $MESOS_VERSION"
log "GET_VERSION: $version"
agents="$(api GET_AGENTS | jq -c '[.get_agents.agents[] | select(.active) | .agent_info.id.value]')"
[[ "$(jq length <<<"$agents")" == 1 ]] || die "GET_AGENTS: active agents $agents, expected one"
log "GET_AGENTS: one active agent $(jq -r '.[0]' <<<"$agents")"

work="$(mktemp -d)"
curl_pid=""
cleanup() {
  if [[ -n "$curl_pid" ]]; then kill "$curl_pid" 2>/dev/null || true; wait "$curl_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

subscribe='{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"'"$(id -un)"'","name":"tars-smoke","roles":["*"],"capabilities":[{"type":"MULTI_ROLE"}]}}}'
started_ms=$(now_ms)
curl -sS -N --max-time "$timeout" -X POST "${json[@]}" --data "$subscribe" \
  -D "$work/headers" -o "$work/stream" "$url/api/v1/scheduler" 2>"$work/curl.err" &
curl_pid=$!
deadline=$((started_ms + timeout * 1000))
subscribed_ms="" offers_ms="" framework_id="" types=""
while :; do
  if [[ -f "$work/stream" ]]; then
    types="$(recordio_records <"$work/stream" | jq -r .type | tr '\n' ' ')"
    if [[ -z "$subscribed_ms" && " $types" == *" SUBSCRIBED "* ]]; then
      subscribed_ms=$(($(now_ms) - started_ms))
      framework_id="$(recordio_records <"$work/stream" | jq -r 'select(.type == "SUBSCRIBED") | .subscribed.framework_id.value')"
    fi
    if [[ -n "$subscribed_ms" && " $types" == *" OFFERS "* ]]; then
      offers_ms=$(($(now_ms) - started_ms))
      break
    fi
  fi
  if ! kill -0 "$curl_pid" 2>/dev/null; then
    die "the SUBSCRIBE stream ended after events: ${types:-none} ($(cat "$work/curl.err"))"
  fi
  (($(now_ms) < deadline)) || die "no SUBSCRIBED and OFFERS within ${timeout}s (events: ${types:-none})"
  sleep 0.1
done
offer="$(recordio_records <"$work/stream" | jq -c 'select(.type == "OFFERS") | .offers.offers[0] | {agent: .agent_id.value, hostname, resources: [.resources[] | .name]}' | head -n1)"
log "SUBSCRIBE: framework $framework_id; SUBSCRIBED after ${subscribed_ms}ms, OFFERS after ${offers_ms}ms: $offer"

stream_id="$(awk -F': ' 'tolower($1) == "mesos-stream-id" {sub(/\r$/, "", $2); print $2}' "$work/headers")"
[[ -n "$stream_id" ]] || die "no Mesos-Stream-Id header in the SUBSCRIBE response"
status="$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST "${json[@]}" \
  -H "Mesos-Stream-Id: $stream_id" \
  --data '{"type":"TEARDOWN","framework_id":{"value":"'"$framework_id"'"}}' "$url/api/v1/scheduler")"
[[ "$status" == 202 ]] || die "TEARDOWN: HTTP $status, expected 202"
log "TEARDOWN: 202; smoke test passed"
