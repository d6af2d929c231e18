#!/usr/bin/env bash
# Bounded fuzz run of the native addon's parsers with cargo fuzz (libFuzzer, AddressSanitizer):
# each target of native/fuzz for FUZZ_SECONDS (default 60), starting from its committed seeds
# (native/fuzz/seeds/<target>); new corpus entries and crash artifacts stay under native/fuzz
# (git-ignored). A crash fails the run and names the artifact to replay.
# Needs a nightly toolchain (`rustup toolchain install nightly`) and `cargo install cargo-fuzz`.
# Usage: bash scripts/fuzz.sh [target ...]   (default: every target; FUZZ_SECONDS=600 for longer)
set -euo pipefail
trap 'echo "MESH_ERR_FUZZ: fuzz.sh stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/../native/fuzz"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

fail() { echo "MESH_ERR_FUZZ: fuzz.sh: $*" >&2; exit 1; }
rustup run nightly rustc --version >/dev/null 2>&1 || fail "no nightly toolchain: run 'rustup toolchain install nightly' (cargo fuzz needs -Z flags)"
cargo +nightly fuzz --version >/dev/null 2>&1 || fail "cargo-fuzz is not installed: run 'cargo install cargo-fuzz'"

secs=${FUZZ_SECONDS:-60}
[[ "$secs" =~ ^[0-9]+$ ]] || fail "FUZZ_SECONDS must be a whole number of seconds, got '$secs'"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
for t in "${targets[@]}"; do
  [ -f "fuzz_targets/$t.rs" ] || fail "unknown target '$t' (have: $(cargo +nightly fuzz list | tr '\n' ' '))"
  mkdir -p "corpus/$t" "seeds/$t"
  echo "[fuzz] $t for ${secs}s"
  # -max_len: detection decides on 24 bytes; longer inputs only exercise the bound
  cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$secs" -max_len=4096 -print_final_stats=1
done
echo "[fuzz] ok: ${targets[*]}"
