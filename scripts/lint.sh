#!/usr/bin/env bash
# Lint: TypeScript type check and eslint, cargo fmt --check, cargo clippy -D warnings.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
npx tsc -p tsconfig.json --noEmit
npx eslint --max-warnings=0 .
(cd native && cargo fmt --check && cargo clippy --all-targets --release -- -D warnings)
