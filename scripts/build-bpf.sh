#!/usr/bin/env bash
# Builds the BPF objects (clang 14, CO-RE) into build/bpf/: vmlinux.h from the running kernel's BTF
# (only when missing), then tc_steer.bpf.o (only when a source is newer than the object).
# Generated files live in build/ and are never committed.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=build/bpf
OBJ=$OUT/tc_steer.bpf.o
SRC=bpf/tc_steer.bpf.c

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "MESH_ERR_NO_TOOL: $1 not found; run \`apt-get install $2\` (or bash scripts/setup.sh)" >&2
    exit 1
  }
}
need clang clang
mkdir -p "$OUT"

if [ ! -s "$OUT/vmlinux.h" ]; then
  need bpftool bpftool
  [ -r /sys/kernel/btf/vmlinux ] || { echo "MESH_ERR_NO_TOOL: /sys/kernel/btf/vmlinux is missing; the kernel needs CONFIG_DEBUG_INFO_BTF" >&2; exit 1; }
  bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$OUT/vmlinux.h.tmp"
  mv "$OUT/vmlinux.h.tmp" "$OUT/vmlinux.h"
fi
[ -r /usr/include/bpf/bpf_helpers.h ] || { echo "MESH_ERR_NO_TOOL: libbpf headers not found; run \`apt-get install libbpf-dev\`" >&2; exit 1; }

# Up to date when the object is newer than every source it is built from.
stale=0
[ -f "$OBJ" ] || stale=1
if [ $stale -eq 0 ]; then
  for f in "$SRC" bpf/include/*.h bpf/lib/*.h "$OUT/vmlinux.h" "$0"; do
    [ -e "$f" ] || continue
    if [ "$f" -nt "$OBJ" ]; then stale=1; break; fi
  done
fi
if [ $stale -eq 1 ]; then
  clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
    -I "$OUT" -I bpf/include -I bpf/lib -c "$SRC" -o "$OBJ.tmp"
  mv "$OBJ.tmp" "$OBJ"
  echo "built $OBJ"
fi
