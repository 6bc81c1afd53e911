#!/usr/bin/env bash
# up.sh STATE_DIR: starts a small real OpenStack on 127.0.0.1 from install.sh's cache and returns
# once a server can be booted: Keystone, Placement, Glance, a Neutron API server and nova-api
# (each under uWSGI), nova-conductor, nova-scheduler and nova-compute with the fake virt driver
# (`fake.FakeDriverWithoutFakeNodes`: instances are database rows, nothing runs), RabbitMQ with its
# own epmd. SQLite databases. Every start is a fresh cloud: data of an earlier one is removed.
#
# Writes, under STATE_DIR:
#   clouds.yaml     clouds `tars` (project and user tars, a member) and `tars-admin` (admin)
#   adminrc, tarsrc OS_* variables for the same (`. STATE_DIR/adminrc; openstack server list`)
#   ports           the port layout, as shell assignments
#   pids/NAME.pid   "PID STARTTIME" of each process started (down.sh reads them)
#   pids/NAME.cmd   its command line, shell-quoted (kill-service.sh starts it again)
#   etc/            the rendered configuration (templates: etc/ beside this script)
#   data/           SQLite databases, Glance's images, RabbitMQ's Mnesia, Keystone's keys
#   logs/           every service's log; NAME.out is its stdout/stderr, up.log the setup steps
#
# Environment (all optional):
#   TARS_OS_PORT_BASE          first of the ports used, default 17000 (below); two stacks need
#                              different bases (and STATE_DIRs)
#   TARS_OS_START_TIMEOUT      seconds one start may take to be ready, default 300
#   TARS_OS_START_ATTEMPTS     starts tried before giving up, default 2
#   TARS_OS_COMPUTE_HOSTS      nova-compute services (fake hosts tars-compute, tars-compute-2, ...),
#                              default 1; 2 or more for anti-affinity (server groups) to place replicas
#   TARS_OS_ADMIN_PASSWORD     default "secret"; TARS_OS_TARS_PASSWORD default "tars-secret"
#   TARS_CACHE, PYTHON         as for install.sh (they choose the cache)
#
# Ports (B = TARS_OS_PORT_BASE): Keystone B, Nova B+1, Placement B+2, Glance B+3, Neutron B+4,
# RabbitMQ B+5 (AMQP) and B+6 (Erlang distribution), epmd B+7; uWSGI's internal sockets B+10..B+14.
#
# A start that fails or is not ready in time is stopped (all of it) and retried from scratch with
# its reason logged; after the last attempt the tails of the logs are printed and nothing is left
# running. Already running: says so and exits 0 if Keystone answers, else fails (run down.sh).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

(($# == 1)) || die "usage: ${0##*/} STATE_DIR"
mkdir -p "$1" || die "cannot create $1"
S="$(cd "$1" && pwd)"
os_ports
start_timeout="${TARS_OS_START_TIMEOUT:-300}"
attempts="${TARS_OS_START_ATTEMPTS:-2}"
compute_hosts="${TARS_OS_COMPUTE_HOSTS:-1}"
[[ "$compute_hosts" =~ ^[1-9]$ ]] || die "TARS_OS_COMPUTE_HOSTS=$compute_hosts is not a number from 1 to 9"
if ! [[ "$start_timeout" =~ ^[1-9][0-9]*$ && "$attempts" =~ ^[1-9][0-9]*$ ]]; then
  die "TARS_OS_START_TIMEOUT and TARS_OS_START_ATTEMPTS must be positive integers"
fi
admin_password="${TARS_OS_ADMIN_PASSWORD:-secret}"
tars_password="${TARS_OS_TARS_PASSWORD:-tars-secret}"
# Passwords of Nova, Glance... in Keystone: this cloud's own, never shown to a user.
service_password="service-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
keystone_url="http://127.0.0.1:$OS_PORT_KEYSTONE/v3"

os_cache_ready \
  || die "OpenStack is not installed (or from other pins) in $OS_CACHE: run $OS_SCRIPTS_DIR/install.sh"
V="$OS_VENV"
SP="$("$V/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# Already running?
mkdir -p "$S/pids"
running=()
for f in "$S"/pids/*.pid; do
  [[ -f "$f" ]] || continue
  read -r pid start <"$f" || true
  if [[ -n "${start:-}" && "$(proc_starttime "${pid:-0}")" == "$start" ]]; then
    running+=("$(basename "$f" .pid)")
  else
    rm -f "$f"
  fi
done
if ((${#running[@]})); then
  if curl -sf --max-time 5 -o /dev/null "$keystone_url" && [[ -f "$S/ports" ]] \
    && grep -qx "OS_PORT_BASE=$OS_PORT_BASE" "$S/ports"; then
    log "already running (${running[*]}): $keystone_url"
    exit 0
  fi
  die "partly running or on other ports (${running[*]}): run down.sh $S first"
fi

# --- helpers ----------------------------------------------------------------------------------------
step_t0=0
ts() { log "[$(secs $(($(now_ms) - step_t0)))] $*"; }

# The environment of every process of the stack: nothing of the caller's, plus the mark down.sh
# finds stragglers by, and pylib/ (its sitecustomize makes SQLite transactions BEGIN IMMEDIATE).
base_env=(env -i PATH="$V/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" HOME="$S/data"
  LANG=C.UTF-8 PYTHONWARNINGS=ignore PYTHONDONTWRITEBYTECODE=1 TARS_OS_STATE_DIR="$S"
  PYTHONPATH="$OS_SCRIPTS_DIR/pylib")

# spawn NAME [VAR=VALUE...] -- COMMAND...: starts COMMAND in a session of its own (setsid execs in
# place: the PID is the program's), records "PID STARTTIME" in pids/NAME.pid.
spawn() {
  local name=$1 pid
  shift
  local -a vars=()
  while [[ "$1" != -- ]]; do vars+=("$1"); shift; done
  shift
  "${base_env[@]}" "${vars[@]}" setsid "$@" </dev/null >>"$S/logs/$name.out" 2>&1 &
  pid=$!
  echo "$pid $(proc_starttime "$pid")" >"$S/pids/$name.pid"
  # How to start it again (kill-service.sh, the fault tests): the command line, shell-quoted.
  printf '%q ' "${base_env[@]}" "${vars[@]}" setsid "$@" >"$S/pids/$name.cmd"
}

# uwsgi NAME PORT WSGI_FILE [VAR=VALUE...]: an HTTP router on PORT (keep-alive: clients reuse
# connections; --http-socket dropped them) in front of one worker with 4 threads (placement: 1,
# below), which the
# router reaches on PORT+10. --die-on-term: SIGTERM stops it (uWSGI's default is to reload).
# --buffer-size 65535: Nova lists a page of servers by asking Neutron for the ports of every one
# in one GET (`device_id=...` per server); past ~75 servers that request is longer than uWSGI's
# default 4 KiB and Neutron's router drops it, and Nova answers the list with 500.
#
# Placement gets one thread: with 4, its requests deadlocked on placement.db under load (CI,
# 2026-11-26: GET /allocation_candidates and PUT /allocations waited 60 s, the busy timeout, then
# "database is locked"; Nova set the servers to ERROR, NoValidHost). Every transaction takes
# SQLite's write lock up front (pylib/sitecustomize.py), so a thread holding it while it waits for
# something another thread of the process holds, which waits for the lock, stalls both. Placement
# is the only user of placement.db: one request at a time there leaves nothing to contend.
uwsgi_service() {
  local name=$1 port=$2 file=$3 threads=4
  shift 3
  [[ $name == placement ]] && threads=1
  spawn "$name" "$@" -- "$V/bin/uwsgi" --http "127.0.0.1:$port" --http-keepalive \
    --socket "127.0.0.1:$((port + OS_UWSGI_SOCKET_OFFSET))" --wsgi-file "$SP/$file" \
    --callable application --master --processes 1 --threads "$threads" --lazy-apps --die-on-term \
    --buffer-size 65535 --need-app --logto "$S/logs/$name-uwsgi.log"
}

# Runs a setup command with the stack's environment; its output goes to logs/up.log.
run() { "${base_env[@]}" "$@" >>"$S/logs/up.log" 2>&1; }

# SQLite: write-ahead logging (readers no longer block the writer, nor it them; the mode stays
# with the file) on each database given. Without it, nova-conductor's and nova-api's writes to
# nova.db collided under load ("database is locked") and a server stayed in task_state deleting
# forever; the URLs' ?timeout=60 makes a writer wait for the lock instead of failing after 5 s.
wal_py='
import sqlite3, sys
for db in sys.argv[1:]:
    c = sqlite3.connect(db, timeout=60)
    mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    c.close()
    if mode != "wal":
        sys.exit(f"{db}: journal_mode is {mode}, not wal")
'

stop_all() { TARS_OS_STOP_QUIET=1 "$OS_SCRIPTS_DIR/down.sh" "$S" >/dev/null 2>&1 || true; }

# wait_for WHAT COMMAND...: retries COMMAND until it succeeds, the deadline passes (fails) or a
# process of the stack has died (fails, naming it).
wait_for() {
  local what=$1
  shift
  until "$@" >/dev/null 2>&1; do
    check_alive || { reason="$reason (waiting for $what)"; return 1; }
    if (($(now_ms) >= deadline)); then
      reason="not ready after ${start_timeout}s (waiting for $what)"
      return 1
    fi
    sleep 0.3
  done
}
check_alive() {
  local f pid start
  for f in "$S"/pids/*.pid; do
    [[ -f "$f" ]] || continue
    read -r pid start <"$f"
    if [[ "$(proc_starttime "$pid")" != "$start" ]]; then
      reason="$(basename "$f" .pid) exited (see $S/logs)"
      return 1
    fi
  done
}
# shellcheck disable=SC2317 # called through wait_for
http_ok() { curl -sf --max-time 5 -o /dev/null "$1"; }

render() {
  local src dst
  rm -rf "${S:?}/etc"
  while IFS= read -r src; do
    dst="$S/etc/${src#"$OS_SCRIPTS_DIR/etc/"}"
    mkdir -p "$(dirname "$dst")"
    sed -e "s#@STATE@#$S#g" -e "s#@KEYSTONE_URL@#$keystone_url#g" \
      -e "s#@PORT_AMQP@#$OS_PORT_AMQP#g" -e "s#@PORT_NEUTRON@#$OS_PORT_NEUTRON#g" \
      -e "s#@PORT_GLANCE@#$OS_PORT_GLANCE#g" -e "s#@SERVICE_PASSWORD@#$service_password#g" \
      "$src" >"$dst"
  done < <(find "$OS_SCRIPTS_DIR/etc" -type f)
  chmod -R go-rwx "$S/etc"
}

write_client_files() {
  umask 077
  cat >"$S/clouds.yaml" <<YAML
# Written by up.sh for the OpenStack in $S (ports from $OS_PORT_BASE).
clouds:
  tars:
    auth:
      auth_url: $keystone_url
      username: tars
      password: $tars_password
      project_name: tars
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
    interface: public
  tars-admin:
    auth:
      auth_url: $keystone_url
      username: admin
      password: $admin_password
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
    interface: public
YAML
  local user project password rc
  for rc in adminrc tarsrc; do
    if [[ $rc == adminrc ]]; then user=admin project=admin password=$admin_password
    else user=tars project=tars password=$tars_password; fi
    cat >"$S/$rc" <<RC
# OpenStack in $S as $user (project $project): . $S/$rc
export OS_AUTH_URL=$keystone_url OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne
export OS_USERNAME=$user OS_PASSWORD=$password OS_PROJECT_NAME=$project
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_INTERFACE=public
export PATH="$V/bin:\$PATH" PYTHONWARNINGS=ignore
RC
  done
  {
    echo "OS_PORT_BASE=$OS_PORT_BASE"
    declare -p OS_PORT_KEYSTONE OS_PORT_NOVA OS_PORT_PLACEMENT OS_PORT_GLANCE OS_PORT_NEUTRON \
      OS_PORT_AMQP OS_PORT_RABBIT_DIST OS_PORT_EPMD | sed 's/^declare -- //'
  } >"$S/ports"
  umask 022
}

# --- one start --------------------------------------------------------------------------------------
# Sets reason on failure. Returns 1 on a failure worth retrying, 2 on one that is not.
start_once() {
  reason=""
  step_t0=$(now_ms)
  deadline=$((step_t0 + start_timeout * 1000))
  local p
  for p in "${OS_PORTS_ALL[@]}"; do
    if port_in_use "$p"; then
      reason="127.0.0.1:$p is already in use (set TARS_OS_PORT_BASE; this stack uses $OS_PORT_BASE..$((OS_PORT_BASE + 14)))"
      return 2
    fi
  done
  rm -rf "${S:?}"/{data,logs,etc,pids}
  mkdir -p "$S"/data/{nova/locks,neutron/locks,glance/images,glance/locks,keystone,rabbit} \
    "$S/logs/rabbit" "$S/pids"
  render
  write_client_files

  # RabbitMQ, with an epmd of its own on the stack's port (rabbit would otherwise start, and leave
  # behind, a daemon on the machine's 4369).
  echo "[]." >"$S/data/rabbit/enabled_plugins"
  local -a rabbit_vars
  mapfile -t rabbit_vars < <(os_rabbit_env "$S"; env | grep -E '^(RABBITMQ_|ERL_EPMD_|HOME=)')
  spawn epmd "${rabbit_vars[@]}" -- "$OS_EPMD" -address 127.0.0.1 -port "$OS_PORT_EPMD"
  spawn rabbitmq "${rabbit_vars[@]}" -- "$OS_RABBIT_SERVER"

  # Database schemas, in parallel.
  local K="$V/bin/keystone-manage --config-file $S/etc/keystone/keystone.conf"
  local N="$V/bin/nova-manage --config-file $S/etc/nova/nova.conf"
  local -a jobs=()
  run bash -c "set -e; $K db_sync; $K fernet_setup --keystone-user root --keystone-group root
    $K credential_setup --keystone-user root --keystone-group root
    $K bootstrap --bootstrap-password '$admin_password' --bootstrap-region-id RegionOne \
      --bootstrap-admin-url $keystone_url --bootstrap-internal-url $keystone_url \
      --bootstrap-public-url $keystone_url" && run "$V/bin/python" -c "$wal_py" "$S/data/keystone.db" &
  local keystone_job=$!
  run "$V/bin/placement-manage" --config-file "$S/etc/placement/placement.conf" db sync &
  jobs+=($!)
  run "$V/bin/glance-manage" --config-file "$S/etc/glance/glance-api.conf" db_sync &
  jobs+=($!)
  # Neutron's migrations fail on SQLite: create the schema from the models, then stamp it.
  run bash -c "set -e; '$V/bin/python' -c \"
import sqlalchemy as sa
from neutron.db.migration.models import head
head.get_metadata().create_all(sa.create_engine('sqlite:///$S/data/neutron.db'))\"
    '$V/bin/neutron-db-manage' --config-file '$S/etc/neutron/neutron.conf' \
      --config-file '$S/etc/neutron/plugins/ml2/ml2_conf.ini' stamp heads" &
  jobs+=($!)
  run bash -c "set -e; $N api_db sync; $N cell_v2 map_cell0 --database_connection 'sqlite:///$S/data/nova_cell0.db?timeout=60'
    $N cell_v2 create_cell --name cell1; $N db sync" &
  jobs+=($!)

  wait "$keystone_job" || { reason="keystone-manage db_sync/bootstrap failed (see $S/logs/up.log)"; return 1; }
  ts "keystone database and bootstrap done"
  uwsgi_service keystone "$OS_PORT_KEYSTONE" keystone/wsgi/api.py \
    OS_KEYSTONE_CONFIG_DIR="$S/etc/keystone" OS_KEYSTONE_CONFIG_FILES=keystone.conf
  wait_for "Keystone at $keystone_url" http_ok "$keystone_url" || return 1
  ts "keystone up"
  run env TARS_OS_KEYSTONE_URL="$keystone_url" TARS_OS_ADMIN_PASSWORD="$admin_password" \
    TARS_OS_SERVICE_PASSWORD="$service_password" TARS_OS_TARS_PASSWORD="$tars_password" \
    TARS_OS_PORT_NOVA="$OS_PORT_NOVA" TARS_OS_PORT_PLACEMENT="$OS_PORT_PLACEMENT" \
    TARS_OS_PORT_GLANCE="$OS_PORT_GLANCE" TARS_OS_PORT_NEUTRON="$OS_PORT_NEUTRON" \
    "$V/bin/python" "$OS_SCRIPTS_DIR/bootstrap.py" catalog \
    || { reason="registering the catalog failed (see $S/logs/up.log)"; return 1; }
  ts "catalog, project and user tars registered"
  local j
  for j in "${jobs[@]}"; do
    wait "$j" || { reason="a database sync failed (see $S/logs/up.log)"; return 1; }
  done
  run "$V/bin/python" -c "$wal_py" "$S"/data/{placement,glance,neutron,nova_api,nova_cell0,nova}.db \
    || { reason="switching the databases to WAL failed (see $S/logs/up.log)"; return 1; }
  ts "all database schemas created (WAL)"
  wait_for "RabbitMQ" "${base_env[@]}" "${rabbit_vars[@]}" "$OS_RABBITMQCTL" -q \
    await_startup --timeout 5 || return 1
  ts "rabbitmq up"

  uwsgi_service placement "$OS_PORT_PLACEMENT" placement/wsgi/api.py OS_PLACEMENT_CONFIG_DIR="$S/etc/placement"
  uwsgi_service glance "$OS_PORT_GLANCE" glance/wsgi/api.py OS_GLANCE_CONFIG_DIR="$S/etc/glance"
  uwsgi_service neutron "$OS_PORT_NEUTRON" neutron/wsgi/api.py OS_NEUTRON_CONFIG_DIR="$S/etc/neutron"
  uwsgi_service nova-api "$OS_PORT_NOVA" nova/wsgi/osapi_compute.py OS_NOVA_CONFIG_DIR="$S/etc/nova"
  local s i
  for s in conductor scheduler compute; do
    spawn "nova-$s" -- "$V/bin/nova-$s" --config-file "$S/etc/nova/nova.conf"
  done
  # More compute hosts: same fake driver, another host name (the fake driver's node name) and
  # state_path (where the node's stable UUID is kept).
  for ((i = 2; i <= compute_hosts; i++)); do
    mkdir -p "$S/data/nova-compute-$i"
    printf '[DEFAULT]\nhost = tars-compute-%s\nstate_path = %s\n' "$i" "$S/data/nova-compute-$i" \
      >"$S/etc/nova/compute-$i.conf"
    spawn "nova-compute-$i" -- "$V/bin/nova-compute" --config-file "$S/etc/nova/nova.conf" \
      --config-file "$S/etc/nova/compute-$i.conf"
  done
  for p in "$OS_PORT_PLACEMENT" "$OS_PORT_GLANCE" "$OS_PORT_NEUTRON" "$OS_PORT_NOVA"; do
    wait_for "the API on 127.0.0.1:$p" http_ok "http://127.0.0.1:$p/" || return 1
  done
  ts "placement, glance, neutron and nova APIs up"
  # In the background, so that a process of the stack that dies meanwhile (nova-compute once
  # died at start-up in oslo.config, "dictionary changed size during iteration") ends the
  # attempt at once instead of after the whole start timeout.
  run env TARS_OS_KEYSTONE_URL="$keystone_url" TARS_OS_ADMIN_PASSWORD="$admin_password" \
    TARS_OS_DEADLINE="$((deadline / 1000))" TARS_OS_NOVA_MANAGE="$N" \
    TARS_OS_COMPUTE_HOSTS="$compute_hosts" \
    "$V/bin/python" "$OS_SCRIPTS_DIR/bootstrap.py" compute &
  local boot=$!
  while kill -0 "$boot" 2>/dev/null; do
    if ! check_alive; then
      pkill -P "$boot" 2>/dev/null || true
      kill "$boot" 2>/dev/null || true
      wait "$boot" 2>/dev/null || true
      reason="$reason (waiting for flavors and the compute hosts)"
      return 1
    fi
    sleep 0.3
  done
  wait "$boot" \
    || { reason="flavors or the compute host failed (see $S/logs/up.log)"; check_alive || true; return 1; }
  ts "flavors created; $compute_hosts nova-compute host(s) up, mapped, inventory in placement"
  check_alive || return 1
}

for ((attempt = 1; attempt <= attempts; attempt++)); do
  log "starting OpenStack in $S, ports $OS_PORT_BASE..$((OS_PORT_BASE + 14)) (attempt $attempt/$attempts)"
  rc=0
  start_once || rc=$?
  if ((rc == 0)); then
    total=$(($(now_ms) - step_t0))
    rss=0 n=0
    for f in "$S"/pids/*.pid; do
      read -r pid _ <"$f"
      # the whole session: uWSGI's and oslo.service's workers, beam's helpers
      for q in $(ps -o pid= -s "$pid" 2>/dev/null); do
        kib="$(awk '/^VmRSS:/ {print $2}' "/proc/$q/status" 2>/dev/null)" || continue
        rss=$((rss + ${kib:-0})) n=$((n + 1))
      done
    done
    log "OpenStack up in $(secs "$total"): Keystone $keystone_url, Nova http://127.0.0.1:$OS_PORT_NOVA/v2.1"
    log "  $n processes, RSS $((rss / 1024)) MiB in all (shared pages counted in each)"
    log "  clients: OS_CLIENT_CONFIG_FILE=$S/clouds.yaml OS_CLOUD=tars (or tars-admin), or . $S/adminrc"
    exit 0
  fi
  log "attempt $attempt/$attempts failed after $(secs $(($(now_ms) - step_t0))): $reason"
  rm -rf "$S/logs.attempt-$attempt"
  if [[ -d "$S/logs" ]]; then
    echo "=== attempt $attempt failed: $reason" >>"$S/logs/up.log"
    cp -r "$S/logs" "$S/logs.attempt-$attempt" 2>/dev/null || true
  fi
  stop_all
  ((rc == 1)) || break
done
last="$S/logs.attempt-$((attempt > attempts ? attempts : attempt))"
for f in "$last"/up.log "$last"/*.out; do
  [[ -s "$f" ]] || continue
  log "last lines of $f:"
  tail -n 8 "$f" | cut -c1-300 >&2
done
die "OpenStack did not start"
