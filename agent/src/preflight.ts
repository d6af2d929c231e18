// Checks the agent's prerequisites before it touches the kernel, failing with the exact MESH_ERR_*
// code and the command that fixes it (root, BTF, bpffs, addon and BPF object built).

import { existsSync, readFileSync } from 'node:fs';
import { MeshError } from '../../common/errors.js';
import { ADDON_PATH, BPF_OBJECT_PATH } from '../../native/index.js';

export function bpffsMounted(): boolean {
  try {
    return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => {
      const f = l.split(' ');
      return f[1] === '/sys/fs/bpf' && f[2] === 'bpf';
    });
  } catch {
    return false;
  }
}

export function preflight(): void {
  if (process.getuid?.() !== 0) throw new MeshError('MESH_ERR_NOT_ROOT', 'the agent must run as root (it loads BPF programs and opens transparent sockets); run it with sudo');
  if (!existsSync('/sys/kernel/btf/vmlinux')) throw new MeshError('MESH_ERR_NO_BTF', 'the kernel exposes no BTF (/sys/kernel/btf/vmlinux); use a kernel built with CONFIG_DEBUG_INFO_BTF=y');
  if (!bpffsMounted()) throw new MeshError('MESH_ERR_NO_BPFFS', 'bpffs is not mounted at /sys/fs/bpf; run: mount -t bpf bpf /sys/fs/bpf');
  if (!existsSync(ADDON_PATH)) throw new MeshError('MESH_ERR_NOT_BUILT', `native addon missing at ${ADDON_PATH}; run: npm run build`);
  if (!existsSync(BPF_OBJECT_PATH)) throw new MeshError('MESH_ERR_NOT_BUILT', `BPF object missing at ${BPF_OBJECT_PATH}; run: npm run build`);
}
