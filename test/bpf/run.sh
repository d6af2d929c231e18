#!/usr/bin/env bash
# BPF tier: builds tc_steer.bpf.o and the BPF_PROG_RUN test program, then runs it as root in a
# private network namespace (the program unshares its own). Exits non-zero on any failure; the
# last line is "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "MESH_ERR_NOT_ROOT: test/bpf/run.sh needs root (BPF_PROG_RUN, unshare)" >&2; exit 1; }
command -v gcc >/dev/null 2>&1 || { echo "MESH_ERR_NO_TOOL: gcc not found; run \`apt-get install gcc\`" >&2; exit 1; }
bash scripts/build-bpf.sh
BIN=build/bpf/tc_steer_test
if [ ! -x "$BIN" ] || [ test/bpf/tc_steer_test.c -nt "$BIN" ] || [ bpf/include/shared.h -nt "$BIN" ]; then
  gcc -O1 -g -Wall -Wextra -Werror -I bpf/include -o "$BIN" test/bpf/tc_steer_test.c -lbpf -lelf -lz
fi
"$BIN" build/bpf/tc_steer.bpf.o
