# shellcheck shell=bash disable=SC2034
# Shared by install.sh, up.sh, down.sh and smoke.sh (sourced, not run). Bash, `set -euo pipefail`
# in callers.
#
# One place for the pinned versions, where the cache lives, the port layout and the PID helpers, so
# the scripts cannot disagree.

# The release this stack is (the versions constraints.txt pins): Nova 34, Keystone 30, Placement 16,
# Glance 33, Neutron 29, python-openstackclient 10.5, uWSGI 2.0.31. constraints.txt pins every
# Python package of the venv, so the venv is the same on every machine.
OS_NOVA_VERSION=34.0.0
OS_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OS_CONSTRAINTS="$OS_SCRIPTS_DIR/constraints.txt"
OS_PYTHON="${PYTHON:-python3}"
OS_CACHE_ROOT="${TARS_CACHE:-/var/cache/tars}"

# The cache key: the constraints and the interpreter's minor version (a venv is tied to it). Another
# pin or another Python gets another directory; the old one is left for whoever still uses it.
os_version_key() {
  local py
  py="$("$OS_PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])' 2>/dev/null)" || py="py-unknown"
  echo "nova-${OS_NOVA_VERSION}-${py}-$(sha256sum <"$OS_CONSTRAINTS" | cut -c1-12)"
}
OS_CACHE="${OS_CACHE_ROOT}/openstack-$(os_version_key)"
OS_VENV="$OS_CACHE/venv"
# Written last by install.sh; holds os_cache_stamp. No marker, or another stamp: install again.
OS_MARKER="$OS_CACHE/.complete"

# What the cache was built from: the key above and install.sh itself.
os_cache_stamp() {
  { os_version_key; sha256sum <"$OS_SCRIPTS_DIR/install.sh"; } | sha256sum | cut -d' ' -f1
}
os_cache_ready() {
  [[ -f "$OS_MARKER" ]] && [[ "$(cat "$OS_MARKER")" == "$(os_cache_stamp)" ]]
}

# RabbitMQ: Debian's package, started by hand (never as the system service).
OS_RABBIT_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
OS_RABBITMQCTL=/usr/lib/rabbitmq/bin/rabbitmqctl
OS_EPMD=/usr/bin/epmd

# Ports: TARS_OS_PORT_BASE (default 17000) and the next 20. Clear of Kubernetes (6443, 2379-2380,
# 10250, 16443, 16379, 16250, 8443), Mesos (5050, 31000-32000) and the ephemeral range.
# Two stacks with different bases and STATE_DIRs run side by side.
os_ports() {
  OS_PORT_BASE="${TARS_OS_PORT_BASE:-17000}"
  if ! [[ "$OS_PORT_BASE" =~ ^[0-9]+$ ]] || ((OS_PORT_BASE < 1024 || OS_PORT_BASE > 65515)); then
    die "TARS_OS_PORT_BASE=$OS_PORT_BASE is not a port between 1024 and 65515"
  fi
  OS_PORT_KEYSTONE=$((OS_PORT_BASE + 0))  # identity, /v3
  OS_PORT_NOVA=$((OS_PORT_BASE + 1))      # compute, /v2.1
  OS_PORT_PLACEMENT=$((OS_PORT_BASE + 2)) # placement
  OS_PORT_GLANCE=$((OS_PORT_BASE + 3))    # image
  OS_PORT_NEUTRON=$((OS_PORT_BASE + 4))   # network (API server only)
  OS_PORT_AMQP=$((OS_PORT_BASE + 5))      # RabbitMQ
  OS_PORT_RABBIT_DIST=$((OS_PORT_BASE + 6)) # Erlang distribution (rabbitmqctl talks to it)
  OS_PORT_EPMD=$((OS_PORT_BASE + 7))      # the stack's own epmd (not the machine's 4369)
  # uWSGI: each HTTP router forwards to its workers through a uwsgi socket, WSGI port + 10.
  OS_UWSGI_SOCKET_OFFSET=10
  OS_PORTS_ALL=("$OS_PORT_KEYSTONE" "$OS_PORT_NOVA" "$OS_PORT_PLACEMENT" "$OS_PORT_GLANCE"
    "$OS_PORT_NEUTRON" "$OS_PORT_AMQP" "$OS_PORT_RABBIT_DIST" "$OS_PORT_EPMD"
    $((OS_PORT_KEYSTONE + 10)) $((OS_PORT_NOVA + 10)) $((OS_PORT_PLACEMENT + 10))
    $((OS_PORT_GLANCE + 10)) $((OS_PORT_NEUTRON + 10)))
}

# The environment of RabbitMQ, rabbitmqctl and epmd for STATE_DIR $1 (call os_ports first).
os_rabbit_env() {
  local s=$1
  export HOME="$s/data/rabbit"
  export RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$OS_PORT_AMQP" RABBITMQ_DIST_PORT="$OS_PORT_RABBIT_DIST"
  export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$OS_PORT_EPMD"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_MNESIA_BASE="$s/data/rabbit/mnesia" RABBITMQ_LOG_BASE="$s/logs/rabbit"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$s/data/rabbit/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$s/data/rabbit/rabbitmq" RABBITMQ_PID_FILE="$s/data/rabbit/pid"
  export RABBITMQ_CONF_ENV_FILE="$s/data/rabbit/rabbitmq-env.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$s/data/rabbit/advanced.config"
}

log() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Milliseconds since the epoch, and "12.3s" for a duration in ms.
now_ms() { date +%s%3N; }
secs() { printf '%d.%ds' $(($1 / 1000)) $(($1 % 1000 / 100)); }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The start time of a live process in clock ticks since boot (field 22 of /proc/PID/stat), so a
# PID file is not fooled by a reused PID. Empty if there is no such process or it is a zombie.
proc_starttime() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  [[ "$1" == Z ]] || echo "${20}"
}

# True if process $1 belongs to the stack in STATE_DIR $2: every process up.sh starts, and all
# their children, have TARS_OS_STATE_DIR=STATE_DIR in their environment. Python services that set
# their process title (oslo.service's masters and workers, via setproctitle) overwrite the memory
# /proc/PID/environ shows, so "--config-file STATE_DIR/etc/" in the command line counts too (not
# STATE_DIR alone: a user's `tail -f STATE_DIR/logs/...` is not the stack's).
proc_is_ours() {
  tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qxF "TARS_OS_STATE_DIR=$2" && return 0
  tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "--config-file $2/etc/"
}

# Every live process (not zombie) of the stack in STATE_DIR $1, one PID a line. One grep over all
# of /proc per rule (a loop of greps took 40 s on a busy machine); the greps have exited when
# the PIDs are checked, so they do not find themselves.
os_marked_pids() {
  local files f p
  files="$({
    grep -lsxzF "TARS_OS_STATE_DIR=$1" /proc/[0-9]*/environ
    grep -lsF -- "--config-file $1/etc/" /proc/[0-9]*/cmdline
  } 2>/dev/null)" || true
  for f in $files; do
    p="${f#/proc/}" p="${p%%/*}"
    [[ "$p" != "$$" && "$p" != "$BASHPID" && -n "$(proc_starttime "$p")" ]] && echo "$p"
  done | sort -un
  return 0
}
