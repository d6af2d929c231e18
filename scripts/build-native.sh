#!/usr/bin/env bash
# Builds the Rust addon with the napi-rs CLI into native/nodemesh.node (never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
node_modules/.bin/napi build --release --platform --manifest-path native/Cargo.toml --output-dir native \
  --no-js --dts binding.d.ts 2>&1 | grep -vE '^\s+(Compiling|Finished|Running)' || true
test -f native/nodemesh.linux-x64-gnu.node || { echo "MESH_ERR_NOT_BUILT: native build failed" >&2; exit 1; }
# Stable name for the loader; the platform-suffixed file stays beside it.
cp -f native/nodemesh.linux-x64-gnu.node native/nodemesh.node
