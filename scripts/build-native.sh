#!/usr/bin/env bash
# Builds the Rust addon (napi-rs crates) with cargo into native/nodemesh.node (never committed).
# For one target, this is all `napi build` does; the @napi-rs/cli package is not used because its
# cross-compilation dependencies have platform packages the npm registry here lacks, which breaks
# `npm ci` (see ARCHITECTURE.md).
set -euo pipefail
cd "$(dirname "$0")/../native"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
cargo build --release --quiet --lib
test -f target/release/libnodemesh_native.so || { echo "MESH_ERR_NOT_BUILT: native build failed" >&2; exit 1; }
# Copy via a temp file and rename, so a running agent never maps a half-written library.
cp -f target/release/libnodemesh_native.so nodemesh.node.tmp && mv -f nodemesh.node.tmp nodemesh.node
