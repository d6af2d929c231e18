#!/usr/bin/env bash
# Brings a fresh machine of this kind to a state where the demo and the tests run: Debian packages,
# npm dependencies, the build (TypeScript, BPF objects, Rust addon) and bpffs. Each step is skipped
# when already done, so running it again is cheap. Needs root for apt and the bpffs mount.
# `--demo` (npm run demo) installs and builds only what the demo needs: no test peers, browser,
# kube-apiserver or Go tools, so a newcomer's first demo is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=all
[ "${1:-}" = --demo ] && MODE=demo

# the demo's: the BPF and Rust build, netns plumbing, tcpdump (the demo shows TLS on the node link), curl
APT_PKGS=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make iproute2 tcpdump curl openssl)
# the tests' and benches' peers and tools: load generators, HAProxy/nginx, nghttp, Chromium for the
# UI tier, Prometheus (with promtool) for the monitoring tier
APT_TEST_PKGS=(iperf3 sockperf wrk haproxy nginx libnginx-mod-stream nghttp2-client chromium prometheus)
[ "$MODE" = demo ] || APT_PKGS+=("${APT_TEST_PKGS[@]}")
step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

missing=()
for p in "${APT_PKGS[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = 'install ok installed' ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "MESH_ERR_NOT_ROOT: installing ${missing[*]} needs root; run as root" >&2; exit 1; fi
  step "installing Debian packages: ${missing[*]}"
  # haproxy and nginx must not start as services; the tests run them in their own namespaces.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
command -v cargo >/dev/null 2>&1 || { echo "MESH_ERR_NO_TOOL: cargo not found; install Rust with rustup" >&2; exit 1; }

# Python's h2 (PyPI): an HTTP/2 client that is not ours, for the HBONE wire-format tests.
if [ "$MODE" != demo ] && ! python3 -c 'import h2' >/dev/null 2>&1; then
  step "pip install h2 (HBONE interop tests)"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore h2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

step "build (TypeScript, BPF, native addon)"
bash scripts/build.sh

if [ "$MODE" = demo ]; then
  if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf; then step "mounting bpffs at /sys/fs/bpf"; mount -t bpf bpf /sys/fs/bpf; fi
  exit 0
fi

step "kube-apiserver, etcd, kubectl, helm for the real-API-server tests (only when missing; cold: ~6 min)"
bash scripts/build-kube.sh || { echo "[setup] build-kube.sh failed; retrying once (a transient Go module proxy error)" >&2; sleep 5; bash scripts/build-kube.sh; } || { echo "MESH_ERR_NOT_BUILT: scripts/build-kube.sh failed (see above); the real kube-apiserver tier cannot run" >&2; [ "${CI:-}" != true ] || exit 1; }

step "fortio, h2spec, grpcurl, jaeger for the L7 and tracing tests and benches (only when missing; cold: ~10 min on 2 cores)"
bash scripts/build-tools.sh || { echo "[setup] build-tools.sh failed; retrying once (a transient Go module proxy error)" >&2; sleep 5; bash scripts/build-tools.sh; } || { echo "MESH_ERR_NOT_BUILT: scripts/build-tools.sh failed (see above); the grpcurl, h2spec, fortio and jaeger tests and benches cannot run" >&2; [ "${CI:-}" != true ] || exit 1; }

if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf; then
  step "mounting bpffs at /sys/fs/bpf"
  mount -t bpf bpf /sys/fs/bpf
fi
