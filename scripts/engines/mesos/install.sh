#!/usr/bin/env bash
# Installs Apache Mesos 1.11.0 (libmesos, with master and agent) for tars' Mesos backend, from PyPI
# and Debian's archive only, into a cache outside the checkout:
#
#   ${TARS_CACHE:-/var/cache/tars}/mesos-1.11.0/
#     lib/libmesos-1.11.0.so    PyPI mesos.scheduler 1.11.0's _scheduler.so (122 MB, sha256 pinned)
#     lib/libssl.so.1.0.0       OpenSSL 1.0 stub (shim/openssl-stub.c; TLS is never enabled)
#     lib/libcrypto.so.1.0.0    the same stub under libcrypto's name
#     lib/libcurl.so.4          forwards to the system libcurl under the old symbol version
#     bin/tars-mesos-local      shim/launcher.cpp: master + agent in one process
#     bin/mesos-containerizer   shim/containerizer.cpp: libmesos' own `launch` subcommand, which
#                               the agent runs from MESOS_LAUNCHER_DIR for every executor (up.sh
#                               links it there)
#     .complete                 written last: a stamp of the pinned artifact and the build inputs
#
# Does nothing when .complete matches this checkout's inputs; otherwise rebuilds (keeping an
# already downloaded libmesos whose sha256 matches). Needs root only to apt-get install missing
# libraries. Environment: TARS_CACHE (cache root), PYTHON (default python3, for pip).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

started_ms=$(now_ms)
finish() { log "$1 in $(( $(now_ms) - started_ms ))ms: $MESOS_CACHE"; }

# Debian packages with the libraries libmesos links (besides libc/libstdc++), by soname.
declare -A DEB_FOR_LIB=(
  [libsvn_delta-1.so.1]=libsvn1 [libsvn_subr-1.so.1]=libsvn1 [libapr-1.so.0]=libapr1
  [libsasl2.so.2]=libsasl2-2 [libz.so.1]=zlib1g [libcurl.so.4]=libcurl4
)
# Programs this script and up.sh/down.sh use, and their Debian packages.
declare -A DEB_FOR_TOOL=(
  [gcc]=gcc [g++]=g++ [objdump]=binutils [sha256sum]=coreutils [flock]=util-linux
  [curl]=curl [jq]=jq [ldconfig]=libc-bin
)

ensure_debian_packages() {
  local -a missing=()
  local lib tool
  local cache
  cache="$(ldconfig -p)"
  for lib in "${!DEB_FOR_LIB[@]}"; do
    grep -q "^[[:space:]]*${lib} (libc6,x86-64)" <<<"$cache" || missing+=("${DEB_FOR_LIB[$lib]}")
  done
  for tool in "${!DEB_FOR_TOOL[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${DEB_FOR_TOOL[$tool]}")
  done
  ((${#missing[@]})) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  [[ $(id -u) == 0 ]] || die "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
  log "installing from Debian's archive: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq || die "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# Fast path: a complete cache built from these sources, whose launcher still loads (the Debian
# libraries it needs may have been removed since).
if mesos_cache_ready && ldd_out="$(ldd "$MESOS_LAUNCHER" "$MESOS_CONTAINERIZER" 2>&1)" \
  && ! grep -q 'not found' <<<"$ldd_out"; then
  finish "already installed (no-op)"
  exit 0
fi

[[ $(uname -m) == x86_64 ]] || die "libmesos from PyPI is x86-64 only (this machine: $(uname -m))"
command -v ldconfig >/dev/null 2>&1 || PATH="$PATH:/sbin:/usr/sbin"
ensure_debian_packages
python="${PYTHON:-python3}"
"$python" -m pip --version >/dev/null 2>&1 || die "$python -m pip does not work (set PYTHON to a Python with pip)"

mkdir -p "$MESOS_CACHE_ROOT" || die "cannot create the cache root $MESOS_CACHE_ROOT (set TARS_CACHE)"
# One installer at a time per cache (two engineers, or CI jobs, sharing /var/cache/tars).
exec 9>"${MESOS_CACHE}.lock"
flock -w 600 9 || die "another install.sh holds ${MESOS_CACHE}.lock for more than 10 minutes"

if mesos_cache_ready; then # another install.sh finished it while we waited for the lock
  finish "already installed (no-op)"
  exit 0
fi

rm -f "$MESOS_MARKER"
mkdir -p "$MESOS_CACHE/lib" "$MESOS_CACHE/bin"
work="$(mktemp -d "${MESOS_CACHE}.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --- 1. libmesos from PyPI ------------------------------------------------------------------------
if [[ -f "$MESOS_LIB" ]] && echo "$MESOS_LIB_SHA256  $MESOS_LIB" | sha256sum -c --quiet >/dev/null 2>&1; then
  log "libmesos already downloaded and verified"
else
  rm -f "$MESOS_LIB"
  log "downloading $MESOS_PYPI_REQUIREMENT from PyPI"
  # pip cannot install this sdist (no setup.py: it is a binary tarball) but, with --no-clean, leaves
  # it unpacked under TMPDIR before failing. So pip's exit status is not the test; the pinned hash
  # of the archive (checked by pip before unpacking) and of the library (below) are.
  echo "$MESOS_PYPI_REQUIREMENT --hash=sha256:$MESOS_PYPI_SHA256" >"$work/requirements.txt"
  mkdir -p "$work/tmp" "$work/dest"
  download_ms=$(now_ms)
  TMPDIR="$work/tmp" "$python" -m pip download --no-cache-dir --no-clean --no-deps --no-build-isolation \
    --require-hashes -r "$work/requirements.txt" -d "$work/dest" >"$work/pip.log" 2>&1 || true
  so="$(find "$work/tmp" -path '*/mesos/scheduler/_scheduler.so' -type f -print -quit)"
  if [[ -z "$so" ]]; then
    tail -n 20 "$work/pip.log" >&2
    die "pip did not leave mesos/scheduler/_scheduler.so under $work/tmp (pip's output above)"
  fi
  echo "$MESOS_LIB_SHA256  $so" | sha256sum -c --quiet \
    || die "sha256 of the downloaded _scheduler.so is not $MESOS_LIB_SHA256"
  mv "$so" "$MESOS_LIB.partial"
  chmod 0755 "$MESOS_LIB.partial"
  mv "$MESOS_LIB.partial" "$MESOS_LIB"
  rm -rf "$work/tmp"
  log "libmesos downloaded and verified in $(( $(now_ms) - download_ms ))ms"
fi

# --- 2. the OpenSSL stub and the curl shim ----------------------------------------------------------
imports="$MESOS_SCRIPTS_DIR/shim/libmesos-imports.txt"
# The import list must be exactly what libmesos imports from libssl/libcrypto/libcurl.
objdump -T "$MESOS_LIB" \
  | awk '/\*UND\*/ && $(NF-1) ~ /^\((OPENSSL_1\.0\.[0-9]|CURL_OPENSSL_3)\)$/ {
           v = $(NF-1); gsub(/[()]/, "", v); print $NF, v }' \
  | sort >"$work/imports.actual"
grep -v '^#' "$imports" | awk 'NF {print $1, $2}' | sort >"$work/imports.listed"
if ! diff -u "$work/imports.listed" "$work/imports.actual" >"$work/imports.diff"; then
  cat "$work/imports.diff" >&2
  die "$imports does not match libmesos' imports (diff above: - listed, + actual)"
fi

# Version scripts and include files, from the list.
awk '!/^#/ && NF && $2 ~ /^OPENSSL/ {
       split($3, a, ":")
       if (a[1] == "return") printf "SHIM_RETURN(%s, %s)\n", $1, a[2]
       else if (a[1] == "abort") printf "SHIM_ABORT(%s)\n", $1
       else { print "bad action for " $1 ": " $3 > "/dev/stderr"; exit 1 } }' \
  "$imports" >"$work/openssl-stubs.inc"
{
  # Each version node inherits the previous one, as in OpenSSL's own version script.
  prev=""
  for v in OPENSSL_1.0.0 OPENSSL_1.0.1 OPENSSL_1.0.2; do
    echo "$v {"
    echo " global:"
    awk -v v="$v" '!/^#/ && $2 == v {print "  " $1 ";"}' "$imports"
    [[ -z "$prev" ]] && echo " local: *;"
    echo "}${prev:+ $prev};"
    prev="$v"
  done
} >"$work/openssl.map"
awk '!/^#/ && $2 == "CURL_OPENSSL_3" {
       if ($3 != "forward") { print "bad action for " $1 ": " $3 > "/dev/stderr"; exit 1 }
       print "FORWARD(" $1 ")" }' "$imports" >"$work/curl-forwards.inc"
{
  echo "CURL_OPENSSL_3 {"
  echo " global:"
  awk '!/^#/ && $2 == "CURL_OPENSSL_3" {print "  " $1 ";"}' "$imports"
  echo " local: *;"
  echo "};"
} >"$work/curl.map"

real_curl="$(ldconfig -p | awk '$1 == "libcurl.so.4" && /x86-64/ {print $NF; exit}')"
[[ -n "$real_curl" && -f "$real_curl" ]] || die "the system libcurl.so.4 was not found (apt-get install libcurl4)"
real_curl="$(readlink -f "$real_curl")"

build_ms=$(now_ms)
cc_flags=(-O2 -fPIC -shared -Wall -Wextra -Werror -I"$work")
for soname in libssl.so.1.0.0 libcrypto.so.1.0.0; do
  nice -n 19 gcc "${cc_flags[@]}" -Wno-unused-parameter "$MESOS_SCRIPTS_DIR/shim/openssl-stub.c" \
    -Wl,-soname,"$soname" -Wl,--version-script,"$work/openssl.map" -o "$work/$soname" \
    || die "building the OpenSSL stub ($soname) failed"
done
nice -n 19 gcc "${cc_flags[@]}" -DTARS_REAL_LIBCURL="\"$real_curl\"" \
  "$MESOS_SCRIPTS_DIR/shim/curl-shim.c" -Wl,-soname,libcurl.so.4 \
  -Wl,--version-script,"$work/curl.map" -o "$work/libcurl.so.4" -ldl \
  || die "building the curl shim failed"
mv -f "$work/libssl.so.1.0.0" "$work/libcrypto.so.1.0.0" "$work/libcurl.so.4" "$MESOS_CACHE/lib/"

# --- 3. the launcher ------------------------------------------------------------------------------
# shellcheck disable=SC2016 # $ORIGIN is for the dynamic loader, not the shell
nice -n 19 g++ -O2 -std=c++17 -Wall -Wextra -Werror "$MESOS_SCRIPTS_DIR/shim/launcher.cpp" \
  -L"$MESOS_CACHE/lib" -l"mesos-$MESOS_VERSION" \
  -Wl,--disable-new-dtags,-rpath,'$ORIGIN/../lib' -o "$work/tars-mesos-local" \
  || die "building the launcher failed"
# shellcheck disable=SC2016
nice -n 19 g++ -O2 -std=c++17 -Wall -Wextra -Werror "$MESOS_SCRIPTS_DIR/shim/containerizer.cpp" \
  -L"$MESOS_CACHE/lib" -l"mesos-$MESOS_VERSION" \
  -Wl,--disable-new-dtags,-rpath,'$ORIGIN/../lib' -o "$work/mesos-containerizer" \
  || die "building mesos-containerizer failed"
mv -f "$work/tars-mesos-local" "$MESOS_LAUNCHER"
mv -f "$work/mesos-containerizer" "$MESOS_CONTAINERIZER"
log "shims, launcher and containerizer built in $(( $(now_ms) - build_ms ))ms"

# The programs must load with every library resolved, and the shims must be the ones used.
for program in "$MESOS_LAUNCHER" "$MESOS_CONTAINERIZER"; do
  ldd_out="$(ldd "$program" 2>&1)" || { echo "$ldd_out" >&2; die "ldd $program failed"; }
  if grep -qE 'not found|version .* not found' <<<"$ldd_out"; then
    echo "$ldd_out" >&2
    die "$program does not load (above)"
  fi
  for lib in libssl.so.1.0.0 libcrypto.so.1.0.0 libcurl.so.4; do
    resolved="$(awk -v l="$lib" '$1 == l && $2 == "=>" {print $3}' <<<"$ldd_out")"
    [[ -n "$resolved" && "$(readlink -f "$resolved")" == "$(readlink -f "$MESOS_CACHE/lib/$lib")" ]] \
      || { echo "$ldd_out" >&2; die "$lib does not resolve to the cache's copy for $program"; }
  done
done
# The containerizer runs a command with the given environment only, in the given directory.
probe_dir="$work/probe"
mkdir -p "$probe_dir"
probe_out="$(env -i MESOS_CONTAINERIZER_LAUNCH_INFO="{\"command\":{\"shell\":true,\"value\":\"echo \$TARS_PROBE; pwd\"},\"environment\":{\"variables\":[{\"name\":\"TARS_PROBE\",\"value\":\"ok\"}]},\"working_directory\":\"$probe_dir\"}" \
  "$MESOS_CONTAINERIZER" launch 2>&1)" || { echo "$probe_out" >&2; die "mesos-containerizer launch failed its probe"; }
[[ "$probe_out" == "ok"$'\n'"$probe_dir" ]] || { echo "$probe_out" >&2; die "mesos-containerizer launch: unexpected probe output (above)"; }

mesos_cache_stamp >"$MESOS_MARKER.partial"
mv "$MESOS_MARKER.partial" "$MESOS_MARKER"
log "cache size: $(du -sh "$MESOS_CACHE" | cut -f1)"
finish "installed"
