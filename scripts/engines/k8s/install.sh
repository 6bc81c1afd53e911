#!/usr/bin/env bash
# Builds (only if missing) and caches a Kubernetes 1.20.2 control plane for tars' Kubernetes
# backend tests, from Debian's archive only:
#   - kube-apiserver, kube-controller-manager, kube-scheduler, kubemark (hollow node), kubectl:
#     built from Debian bookworm's source package `kubernetes` (Go deps vendored) with Debian's
#     Go 1.19, with two local changes (see patch_tree below);
#   - etcd: Debian's `etcd-server` binary package, unpacked.
#
# Cache layout (outside the checkout, keyed by version):
#   ${TARS_CACHE:-/var/cache/tars}/k8s-1.20.2/bin/<the six binaries>
#   ${TARS_CACHE:-/var/cache/tars}/k8s-1.20.2/COMPLETE   (written last; no marker => rebuild)
#   ${TARS_CACHE:-/var/cache/tars}/k8s-1.20.2/work/      (build tree; removed after success)
#   ${TARS_CACHE:-/var/cache/tars}/k8s-1.20.2.lock       (flock: one build at a time)
#
# Idempotent: with a complete cache it only checks the binaries and exits in well under a
# second. Heavy steps run under `nice -n 19` (and `ionice -c3`) so they yield the CPU.
# Needs root only to apt-get install missing build tools (golang-go, rsync, make, dpkg-dev).
set -euo pipefail

K8S_VERSION=1.20.2
# Debian bookworm's source version carries "+really1.20.2"; any Debian revision of it is accepted.
DEB_UPSTREAM_RE='^1\.20\.[0-9]+\+really1\.20\.2-'
REFLECT2_VERSION=1.0.2-2
ETCD_RE='^3\.4\.'
CACHE=${TARS_CACHE:-/var/cache/tars}/k8s-${K8S_VERSION}
BIN=$CACHE/bin
MARKER=$CACHE/COMPLETE
WORK=$CACHE/work
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubemark etcd kubectl)

T0=$(date +%s)
log() { echo "install[k8s-${K8S_VERSION}] +$(($(date +%s) - T0))s: $*"; }
die() { echo "install[k8s-${K8S_VERSION}] FAILED after $(($(date +%s) - T0))s: $*" >&2; exit 1; }
on_exit() {
  local rc=$?
  if ((rc)); then
    echo "install[k8s-${K8S_VERSION}] FAILED (exit $rc) after $(($(date +%s) - T0))s; partial work left in $WORK, cache marker not written (next run rebuilds)" >&2
  fi
}
trap on_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

LOW=(nice -n 19)
if command -v ionice >/dev/null 2>&1; then LOW+=(ionice -c3); fi

cache_ok() {
  [[ -f $MARKER ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x $BIN/$b ]] || return 1; done
}

if cache_ok; then
  log "cached in $BIN ($(cat "$MARKER")); nothing to do"
  exit 0
fi

# One build at a time per cache; a second caller waits, then finds the cache complete.
mkdir -p "${CACHE%/*}"
exec 9>"$CACHE.lock"
if ! flock -n 9; then
  log "another install holds $CACHE.lock; waiting"
  flock 9
fi
if cache_ok; then
  log "cached in $BIN by a concurrent install; nothing to do"
  exit 0
fi

log "no complete cache in $CACHE: building (expect 10-25 minutes)"
rm -f "$MARKER"
rm -rf "$BIN"
mkdir -p "$WORK"

# --- build tools -----------------------------------------------------------------------------
need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v make >/dev/null 2>&1 || need+=(make)
command -v dpkg-source >/dev/null 2>&1 || need+=(dpkg-dev)
if ((${#need[@]})); then
  ((EUID == 0)) || die "missing build tools (${need[*]}); install them: apt-get install ${need[*]}"
  log "installing ${need[*]} from Debian's archive"
  # The lock timeout: scripts/test installs OpenStack's Debian packages in the background.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}" >/dev/null ||
    die "apt-get install ${need[*]} failed (run apt-get update first?)"
fi
go_version=$(go env GOVERSION)
log "using $go_version"

# --- private apt configuration: bookworm deb + deb-src, the system's sources untouched ----------
APTD=$WORK/apt
mkdir -p "$APTD/lists/partial" "$APTD/cache/archives/partial" "$APTD/sources.list.d"
cat >"$APTD/sources.list" <<LIST
deb http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian-security bookworm-security main
deb-src http://deb.debian.org/debian-security bookworm-security main
LIST
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APTD/sources.list"
  -o "Dir::Etc::SourceParts=$APTD/sources.list.d"
  -o "Dir::State::Lists=$APTD/lists"
  -o "Dir::Cache=$APTD/cache"
  -o "APT::Sandbox::User=root"
)
log "apt-get update (private lists in $APTD)"
apt-get "${APT_OPTS[@]}" update -qq >"$WORK/apt-update.log" 2>&1 ||
  die "apt-get update with the private bookworm list failed; see $WORK/apt-update.log"

# newest version of PACKAGE (source with -s) matching REGEX
pick_version() {
  local kind=$1 pkg=$2 re=$3 v
  if [[ $kind == src ]]; then
    v=$(apt-cache "${APT_OPTS[@]}" showsrc "$pkg" 2>/dev/null | awk '/^Version:/{print $2}')
  else
    v=$(apt-cache "${APT_OPTS[@]}" madison "$pkg" 2>/dev/null | awk -F' *\\| *' '{print $2}')
  fi
  v=$(grep -E "$re" <<<"$v" | sort -V | tail -n1 || true)
  [[ -n $v ]] || die "no version of $kind package $pkg matching /$re/ in bookworm"
  echo "$v"
}

K8S_DEB=$(pick_version src kubernetes "$DEB_UPSTREAM_RE")
ETCD_DEB=$(pick_version bin etcd-server "$ETCD_RE")
R2_DEB=$(pick_version bin golang-github-modern-go-reflect2-dev "^${REFLECT2_VERSION//./\\.}\$")

# --- sources -----------------------------------------------------------------------------------
DL=$WORK/dl
rm -rf "$DL" "$WORK/src" "$WORK/etcd" "$WORK/reflect2"
mkdir -p "$DL"
log "downloading source kubernetes=$K8S_DEB, etcd-server=$ETCD_DEB, golang-github-modern-go-reflect2-dev=$R2_DEB"
(
  cd "$DL"
  apt-get "${APT_OPTS[@]}" source --download-only -qq "kubernetes=$K8S_DEB" >"$WORK/apt-source.log" 2>&1 ||
    die "apt-get source kubernetes=$K8S_DEB failed; see $WORK/apt-source.log"
  apt-get "${APT_OPTS[@]}" download -qq "etcd-server=$ETCD_DEB" "golang-github-modern-go-reflect2-dev=$R2_DEB" \
    >"$WORK/apt-download.log" 2>&1 || die "apt-get download failed; see $WORK/apt-download.log"
)
dsc=$(find "$DL" -maxdepth 1 -name 'kubernetes_*.dsc' | head -n1)
[[ -n $dsc ]] || die "no kubernetes .dsc downloaded"
log "unpacking $(basename "$dsc")"
"${LOW[@]}" dpkg-source --no-check -x "$dsc" "$WORK/src" >"$WORK/dpkg-source.log" 2>&1 ||
  die "dpkg-source -x failed; see $WORK/dpkg-source.log"
dpkg -x "$DL"/etcd-server_*.deb "$WORK/etcd"
dpkg -x "$DL"/golang-github-modern-go-reflect2-dev_*.deb "$WORK/reflect2"
[[ -x $WORK/etcd/usr/bin/etcd ]] || die "etcd-server package has no usr/bin/etcd"

# --- local changes -----------------------------------------------------------------------------
SRC=$WORK/src
patch_tree() {
  # 1. The vendored github.com/modern-go/reflect2 v1.0.1 predates Go 1.18: built with Go 1.19 the
  #    apiserver panics (nil pointer in frozenConfig.Type2 / UnsafeMapType) on every plain-JSON
  #    response, e.g. JSON GET or server-side-apply PATCH. Use Debian's reflect2 1.0.2 instead.
  #    The build runs in GOPATH mode, so go.mod/modules.txt need no change.
  local r2=$WORK/reflect2/usr/share/gocode/src/github.com/modern-go/reflect2
  [[ -f $r2/reflect2.go ]] || die "reflect2 sources not found in the Debian package"
  [[ -d $SRC/vendor/github.com/modern-go/reflect2 ]] || die "no vendored reflect2 in the source tree"
  rm -rf "$SRC/vendor/github.com/modern-go/reflect2"
  cp -a "$r2" "$SRC/vendor/github.com/modern-go/reflect2"
  # Debian's copy may carry test data or go.mod; only .go files matter and tests are not built.
  rm -f "$SRC/vendor/github.com/modern-go/reflect2/"*_test.go

  # 2. The hollow kubelet's server address (c.Address) is hard-coded to 0.0.0.0; tars keeps every
  #    listener on loopback. (Its node IP is left alone: 1.20's kubelet rejects a loopback
  #    --node-ip, and the node address is only reported, never listened on.)
  local hk=$SRC/pkg/kubemark/hollow_kubelet.go
  sed -i -e 's/c\.Address = "0\.0\.0\.0"/c.Address = "127.0.0.1"/' "$hk"
  grep -q 'c.Address = "127.0.0.1"' "$hk" || die "could not patch the listen address in $hk"
  if grep -n '0\.0\.0\.0' "$hk"; then die "$hk still mentions 0.0.0.0"; fi
  # 3. Its healthz server has a fixed port (10248, no kubemark flag): disable it (port 0, which
  #    the kubelet treats as "off") so that two test clusters can run side by side.
  grep -q 'HealthzPort' "$hk" && die "$hk already sets HealthzPort"
  sed -i -e 's|^\(\s*\)c\.Address = "127\.0\.0\.1".*$|&\n\1c.HealthzPort = 0 /* tars: no fixed-port healthz listener */|' "$hk"
  grep -q 'c.HealthzPort = 0' "$hk" || die "could not disable the healthz port in $hk"
}
patch_tree
log "patched: vendored reflect2 -> Debian $R2_DEB; hollow kubelet listens on 127.0.0.1, no healthz port"

# --- build -------------------------------------------------------------------------------------
# The Go build cache is several GB and only helps a rebuild (rare: the cache is keyed by
# version), so it lives in the work dir and goes with it.
GOCACHE_DIR=$WORK/gocache
mkdir -p "$SRC/.go/src/k8s.io" "$WORK/home" "$GOCACHE_DIR"
ln -sfn ../../.. "$SRC/.go/src/k8s.io/kubernetes"
WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubemark cmd/kubectl"
log "building $WHAT (log: $WORK/build.log)"
tb=$(date +%s)
(
  cd "$SRC"
  export GOPATH=$SRC/.go CGO_ENABLED=0 GOFLAGS=-mod=vendor GOCACHE=$GOCACHE_DIR HOME=$WORK/home
  export GOPROXY=off KUBE_GIT_VERSION=v${K8S_VERSION} KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=debian
  "${LOW[@]}" make WHAT="$WHAT" >"$WORK/build.log" 2>&1
) || { tail -n 40 "$WORK/build.log" >&2; die "make failed; see $WORK/build.log"; }
log "build took $(($(date +%s) - tb))s"

# --- install into the cache --------------------------------------------------------------------
OUT=$SRC/_output/bin
[[ -d $OUT ]] || OUT=$SRC/_output/local/bin/linux/amd64
rm -rf "$BIN.tmp"
mkdir -p "$BIN.tmp"
for b in kube-apiserver kube-controller-manager kube-scheduler kubemark kubectl; do
  [[ -x $OUT/$b ]] || die "build produced no $b in $OUT"
  cp "$OUT/$b" "$BIN.tmp/$b"
done
cp "$WORK/etcd/usr/bin/etcd" "$BIN.tmp/etcd"
for b in "${BINARIES[@]}"; do [[ -x $BIN.tmp/$b ]] || die "$b missing"; done
"$BIN.tmp/kube-apiserver" --version | grep -q "v${K8S_VERSION}" || die "kube-apiserver --version is not v${K8S_VERSION}"
mv "$BIN.tmp" "$BIN"

log "removing the work dir ($(du -sm "$WORK" | cut -f1) MiB: sources, build tree, Go build cache)"
"${LOW[@]}" rm -rf "$WORK"

printf 'kubernetes %s (Debian source %s, reflect2 %s, %s), etcd %s, built %s\n' \
  "$K8S_VERSION" "$K8S_DEB" "$R2_DEB" "$go_version" "$ETCD_DEB" "$(date -u +%FT%TZ)" >"$MARKER"
log "done: $(du -sh "$BIN" | cut -f1) in $BIN"
