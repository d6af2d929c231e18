#!/usr/bin/env bash
# Builds the real-cluster test binaries from the Go module proxy into build/kube/bin (never committed):
# kube-apiserver, kubectl (same version, no skew) and etcd from test/kube/go.mod; helm from
# test/kube/helm/go.mod. Skipped when the binaries exist and were built from the current go.mod files.
# Usage: bash scripts/build-kube.sh [--force]
set -euo pipefail
trap 'echo "MESH_ERR_NOT_BUILT: build-kube.sh stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

BIN=build/kube/bin
STAMP=$BIN/.stamp
fail() { echo "MESH_ERR_NOT_BUILT: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || fail "go is not installed (Go >= 1.24 is needed to build kube-apiserver, etcd and helm)"
GOV=$(go env GOVERSION | sed -E 's/^go([0-9]+)\.([0-9]+).*/\1 \2/')
read -r GOMAJ GOMIN <<<"$GOV"
if [ "$GOMAJ" -lt 1 ] || { [ "$GOMAJ" -eq 1 ] && [ "$GOMIN" -lt 24 ]; }; then
  fail "Go $(go env GOVERSION) is too old: the tool directives in test/kube/go.mod need Go >= 1.24 (helm's module asks for 1.26; Go fetches that toolchain itself unless GOTOOLCHAIN=local)"
fi

# The stamp ties the binaries to the module files (and this script): a version bump rebuilds.
want=$(cat test/kube/go.mod test/kube/go.sum test/kube/helm/go.mod test/kube/helm/go.sum scripts/build-kube.sh | sha256sum | cut -c1-16)
all_there=true
for b in kube-apiserver kubectl etcd helm; do [ -x "$BIN/$b" ] || all_there=false; done
if [ "${1:-}" != --force ] && $all_there && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  echo "[build-kube] $BIN is up to date (kube-apiserver, kubectl, etcd, helm)"
  exit 0
fi
rm -f "$STAMP"
mkdir -p "$BIN"
OUT=$(cd "$BIN" && pwd)

# One awk, no pipe: `sed | awk '{...; exit}'` lost the race with set -o pipefail (sed got SIGPIPE
# writing its next buffer after awk had exited, and the ERR trap stopped the build).
modver() { awk -v m="$1" '{ sub(/^require[[:space:]]+/, "") } $1 == m && $2 ~ /^v/ { print $2; exit }' "$2"; }
KV=$(modver k8s.io/kubernetes test/kube/go.mod)
EV=$(modver go.etcd.io/etcd/server/v3 test/kube/go.mod)
HV=$(modver helm.sh/helm/v3 test/kube/helm/go.mod)
[ -n "$KV" ] && [ -n "$EV" ] && [ -n "$HV" ] || fail "cannot read the pinned versions from test/kube/go.mod and test/kube/helm/go.mod"
KMAJ=$(echo "$KV" | cut -d. -f1 | tr -d v)
KMIN=$(echo "$KV" | cut -d. -f2)
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Upstream builds these with cgo off (hack/lib/golang.sh); -trimpath and -s -w keep them small.
export CGO_ENABLED=0
FLAGS=(-trimpath -mod=readonly)
CV=k8s.io/component-base/version
KLD="-s -w -X $CV.gitVersion=$KV -X $CV.gitMajor=$KMAJ -X $CV.gitMinor=$KMIN -X $CV.gitTreeState=clean -X $CV.buildDate=$NOW"
# helm's default Capabilities.KubeVersion comes from its client-go (v0.N.x -> 1.N), as its Makefile sets it
HCG=$(modver k8s.io/client-go test/kube/helm/go.mod)
HKMIN=$(echo "$HCG" | cut -d. -f2)
[ -n "$HKMIN" ] || fail "cannot read helm's k8s.io/client-go version from test/kube/helm/go.mod"
HI=helm.sh/helm/v3
HLD="-s -w -X $HI/internal/version.version=$HV -X $HI/internal/version.gitTreeState=clean"
for pkg in pkg/chartutil pkg/lint/rules; do HLD="$HLD -X $HI/$pkg.k8sVersionMajor=1 -X $HI/$pkg.k8sVersionMinor=$HKMIN"; done

start=$SECONDS
step() { printf '[build-kube] %s\n' "$*"; }
run() { "$@" || fail "'$*' failed (see the Go output above; a module download error means the Go module proxy is unreachable)"; }

step "kube-apiserver and kubectl $KV, etcd $EV (CGO_ENABLED=0; cold: about 3-5 min on 2 cores, helm 1 min more)"
t0=$SECONDS
(cd test/kube && run go build "${FLAGS[@]}" -ldflags "$KLD" -o "$OUT/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
(cd test/kube && run go build "${FLAGS[@]}" -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3)
step "kube binaries built in $((SECONDS - t0)) s"

step "helm $HV"
t0=$SECONDS
(cd test/kube/helm && run go build "${FLAGS[@]}" -ldflags "$HLD" -o "$OUT/helm" helm.sh/helm/v3/cmd/helm)
step "helm built in $((SECONDS - t0)) s"

"$BIN/kube-apiserver" --version >/dev/null 2>&1 || fail "$BIN/kube-apiserver does not run"
"$BIN/etcd" --version >/dev/null 2>&1 || fail "$BIN/etcd does not run"
"$BIN/kubectl" version --client >/dev/null 2>&1 || fail "$BIN/kubectl does not run"
"$BIN/helm" version >/dev/null 2>&1 || fail "$BIN/helm does not run"
echo "$want" >"$STAMP"
step "done in $((SECONDS - start)) s: $("$BIN/kube-apiserver" --version), etcd $EV, helm $HV -> $BIN"
