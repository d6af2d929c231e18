#!/usr/bin/env bash
# Builds the Go test tools of the L7 tiers from the Go module proxy into build/tools/bin (never
# committed): fortio (load generator, bench/), h2spec (HTTP/2 conformance), grpcurl (gRPC client),
# jaeger (the v2 all-in-one: OTLP on 4317/4318, query on 16686; the tracing e2e test's collector).
# Each is pinned below, built in a throwaway module, and skipped when built from the same pin.
# Usage: bash scripts/build-tools.sh [--force] [fortio|h2spec|grpcurl|jaeger ...]
set -euo pipefail
trap 'echo "MESH_ERR_NOT_BUILT: build-tools.sh stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

BIN=build/tools/bin
fail() { echo "MESH_ERR_NOT_BUILT: build-tools.sh: $*" >&2; exit 1; }
step() { printf '[build-tools] %s\n' "$*"; }

# name | module | version | main package | -X flags naming the version (what `<tool> --version` prints) | dependency pins
# h2spec v2.2.1 predates Go modules (the proxy serves it as v2.2.1+incompatible, no go.mod): its
# dependencies are pinned to the revisions of its Gopkg.toml, which upstream's later go.mod also names.
H2SPEC_PINS="github.com/fatih/color@v0.0.0-20161025120501-bf82308e8c85 github.com/spf13/cobra@v0.0.0-20170118185516-dc208f4211e7"
H2SPEC_PINS="$H2SPEC_PINS golang.org/x/net@v0.0.0-20161104230106-55a3084c9119 github.com/spf13/pflag@v1.0.3"
H2SPEC_PINS="$H2SPEC_PINS github.com/mattn/go-colorable@v0.1.0 github.com/mattn/go-isatty@v0.0.4 golang.org/x/sys@v0.1.0"
# fortio v1.69.0 and later import grol.io/grol (a scripting engine, fortio/cli → fortio/grol), which
# the Go module proxy answers 403 "not available" for: v1.68.2 is the newest fortio that builds.
TOOLS=(
  "fortio|fortio.org/fortio|v1.68.2|fortio.org/fortio||"
  "h2spec|github.com/summerwind/h2spec|v2.2.1+incompatible|github.com/summerwind/h2spec/cmd/h2spec|-X main.VERSION=2.2.1 -X main.COMMIT=v2.2.1|$H2SPEC_PINS"
  "grpcurl|github.com/fullstorydev/grpcurl|v1.9.4|github.com/fullstorydev/grpcurl/cmd/grpcurl|-X main.version=v1.9.4|"
  "jaeger|github.com/jaegertracing/jaeger|v1.75.0|github.com/jaegertracing/jaeger/cmd/jaeger||"
)

force=false
only=()
for a in "$@"; do
  case "$a" in
    --force) force=true ;;
    fortio|h2spec|grpcurl|jaeger) only+=("$a") ;;
    *) fail "unknown argument \"$a\"; usage: bash scripts/build-tools.sh [--force] [fortio|h2spec|grpcurl|jaeger ...]" ;;
  esac
done

wanted() { [ ${#only[@]} -eq 0 ] && return 0; local t; for t in "${only[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }
# A tool is up to date when its binary exists and its stamp holds the same TOOLS entry (version,
# flags, pins): bumping one tool rebuilds that one only.
stamp() { printf '%s' "$1" | sha256sum | cut -c1-16; }
fresh() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.stamp" 2>/dev/null)" = "$2" ]; }

todo=()
for t in "${TOOLS[@]}"; do
  IFS='|' read -r name _ <<<"$t"
  wanted "$name" || continue
  if $force || ! fresh "$name" "$(stamp "$t")"; then todo+=("$t"); fi
done
if [ ${#todo[@]} -eq 0 ]; then
  step "$BIN is up to date ($(for t in "${TOOLS[@]}"; do IFS='|' read -r n _ v _ <<<"$t"; wanted "$n" && printf '%s %s, ' "$n" "$v"; done | sed 's/, $//'))"
  exit 0
fi

command -v go >/dev/null 2>&1 || fail "go is not installed (Go >= 1.24 is needed to build fortio, h2spec, grpcurl and jaeger); install Go, then rerun"
mkdir -p "$BIN"
OUT=$(cd "$BIN" && pwd)
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod"
start=$SECONDS
built=()
for t in "${todo[@]}"; do
  IFS='|' read -r name mod ver pkg xflags pins <<<"$t"
  t0=$SECONDS
  step "$name $ver ($mod)"
  rm -f "$BIN/.$name.stamp"
  # A throwaway module pins the version; `go get` takes the tool's own go.mod requirements as they are.
  work=$(mktemp -d)
  (
    cd "$work"
    go mod init nodemesh.dev/buildtools/"$name" >/dev/null 2>&1 || fail "go mod init failed in $work"
    # shellcheck disable=SC2086 # $pins is a list of module@version words
    # (the package at the pinned version: a bare `go get PKG` would mean @upgrade)
    go get "$pkg@$ver" $pins >/dev/null 2>"$work/get.err" \
      || { cat "$work/get.err" >&2; fail "step 'go get $pkg@$ver' for $name failed (see above; a download error means the Go module proxy is unreachable)"; }
    go build -trimpath -ldflags "-s -w $xflags" -o "$OUT/$name" "$pkg" || fail "step 'go build $pkg' for $name $ver failed (see the compiler output above)"
  ) || { rm -rf "$work"; exit 1; }
  rm -rf "$work"
  case "$name" in
    fortio) "$BIN/fortio" version >/dev/null 2>&1 ;;
    jaeger) "$BIN/jaeger" --help >/dev/null 2>&1 ;;
    *) "$BIN/$name" --version >/dev/null 2>&1 || "$BIN/$name" -version >/dev/null 2>&1 ;;
  esac || fail "$BIN/$name was built but does not run"
  stamp "$t" >"$BIN/.$name.stamp"
  built+=("$name $ver in $((SECONDS - t0)) s")
  step "$name built in $((SECONDS - t0)) s"
done
step "done in $((SECONDS - start)) s: $(IFS=,; echo "${built[*]}" | sed 's/,/, /g') -> $BIN"
