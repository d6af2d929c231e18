#!/usr/bin/env bash
# Builds everything: BPF objects (clang, CO-RE), the Rust addon (napi-rs) and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-bpf.sh
bash scripts/build-native.sh
rm -rf dist && npx tsc -p tsconfig.json  # clean: a deleted source must not leave a stale test behind
bash scripts/bundle-agent.sh
