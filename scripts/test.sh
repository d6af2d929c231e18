#!/usr/bin/env bash
# The whole suite: unit (node:test, cargo test), BPF (BPF_PROG_RUN), netns end-to-end (root).
# The root tiers are never skipped silently: under CI=true a missing root is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
echo "== unit (node:test)"
node --test --test-reporter=spec $(find dist/test/unit -name '*.test.js' | sort)
echo "== integration (controller and agents in one process, real gRPC on port 0)"
node --test --test-reporter=spec $(find dist/test/integration -name '*.test.js' | sort)
echo "== unit (cargo test)"
(cd native && cargo test --release --quiet)
echo "== real kube-apiserver (build/kube/bin from scripts/build-kube.sh; a failure under CI=true when missing)"
node --test --test-reporter=spec $(find dist/test/kube -maxdepth 1 -name '*.test.js' | sort)
if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = true ]; then echo "MESH_ERR_NOT_ROOT: CI must run the root tiers; run as root" >&2; exit 1; fi
  echo "== SKIPPED: BPF and netns tiers need root (run as root to execute them)"
  exit 0
fi
echo "== BPF (BPF_PROG_RUN)"
bash test/bpf/run.sh
echo "== integration and netns end-to-end (root)"
node --test --test-concurrency=1 --test-reporter=spec $(find dist/test/netns -name '*.test.js' | sort)
echo "== fuzz (cargo fuzz, bounded: FUZZ_SECONDS per target, default 30 here)"
if rustup run nightly rustc --version >/dev/null 2>&1; then
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then
      echo "installing cargo-fuzz from crates.io (CI)"
      cargo install cargo-fuzz --locked --quiet
    else
      echo "== SKIPPED: fuzz needs cargo-fuzz (cargo install cargo-fuzz); CI installs it"; exit 0
    fi
  fi
  FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash scripts/fuzz.sh
elif [ "${CI:-}" = true ]; then
  echo "MESH_ERR_FUZZ: no nightly toolchain for cargo fuzz: run 'rustup toolchain install nightly'" >&2; exit 1
else
  echo "== SKIPPED: fuzz needs a nightly toolchain (rustup toolchain install nightly)"
fi
