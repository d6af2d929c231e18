// `nodemesh check`: the machine's prerequisites, one line each with ok/FAIL, the MESH_ERR_* code
// and the fix; `--pre` (check-pre.ts) and `--dataplane` (check-dataplane.ts) check a cluster. Probes are injectable so the evaluation is unit-tested without root; exit 1 when a
// required check fails (informational ones, like kernel TLS, never fail).

import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MeshErrorCode } from '../common/errors.js';
import { ADDON_PATH, BPF_OBJECT_PATH } from '../native/index.js';
import { intFlag, parseFlags, type FlagValues } from './args.js';
import { formatLines } from './check-lines.js';
import { usageOf } from './commands.js';

export interface Probe {
  uid(): number;
  exists(p: string): boolean;
  /** /proc/mounts text */
  mounts(): string;
  kernelRelease(): string;
  /** absolute path of a tool on PATH (+ sbin dirs), or undefined */
  which(tool: string): string | undefined;
  read(p: string): string | undefined;
}

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly required: boolean;
  readonly detail: string;
  readonly code?: MeshErrorCode;
  readonly fix?: string;
}

export const realProbe: Probe = {
  uid: () => process.getuid?.() ?? -1,
  exists: (p) => existsSync(p),
  mounts: () => { try { return readFileSync('/proc/mounts', 'utf8'); } catch { return ''; } },
  kernelRelease: () => os.release(),
  which: (tool) => {
    const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'].filter(Boolean);
    for (const d of dirs) {
      const f = path.join(d, tool);
      try { accessSync(f, constants.X_OK); return f; } catch { /* next */ }
    }
    return undefined;
  },
  read: (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } },
};

function mountAt(mounts: string, fstype: string, points: readonly string[]): string | undefined {
  for (const l of mounts.split('\n')) {
    const f = l.split(' ');
    if (f[2] === fstype && points.includes(f[1] ?? '')) return f[1];
  }
  return undefined;
}

/** "6.18.44-fc" → [6, 18] */
export function kernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

const TOOLS: readonly { tool: string; pkg: string }[] = [
  { tool: 'clang', pkg: 'clang' }, { tool: 'bpftool', pkg: 'bpftool' }, { tool: 'ip', pkg: 'iproute2' }, { tool: 'nsenter', pkg: 'util-linux' },
];

export function evaluateChecks(p: Probe, artifacts = { addon: ADDON_PATH, bpfObject: BPF_OBJECT_PATH }): CheckResult[] {
  const out: CheckResult[] = [];
  const add = (name: string, ok: boolean, detail: string, code: MeshErrorCode, fix: string, required = true): void => {
    out.push({ name, ok, required, detail, ...(ok ? {} : { code, fix }) });
  };
  const uid = p.uid();
  add('root', uid === 0, uid === 0 ? 'running as root' : `running as uid ${uid}`, 'MESH_ERR_NOT_ROOT', 'run as root (sudo nodemesh …)');
  const btf = p.exists('/sys/kernel/btf/vmlinux');
  add('BTF', btf, btf ? '/sys/kernel/btf/vmlinux' : 'no /sys/kernel/btf/vmlinux', 'MESH_ERR_NO_BTF', 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y');
  const mounts = p.mounts();
  const bpffs = mountAt(mounts, 'bpf', ['/sys/fs/bpf']);
  add('bpffs', bpffs !== undefined, bpffs ? 'mounted at /sys/fs/bpf' : 'not mounted at /sys/fs/bpf', 'MESH_ERR_NO_BPFFS', 'mount -t bpf bpf /sys/fs/bpf');
  const cg = mountAt(mounts, 'cgroup2', ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']);
  add('cgroup2', cg !== undefined, cg ? `mounted at ${cg}` : 'not mounted', 'MESH_ERR_NO_CGROUP2', 'mount -t cgroup2 none /sys/fs/cgroup/unified (hybrid hosts) or boot with cgroup v2');
  const rel = p.kernelRelease();
  const [maj, min] = kernelVersion(rel);
  const tcx = maj > 6 || (maj === 6 && min >= 6);
  add('TCX', tcx, `kernel ${rel}${tcx ? '' : ' (TCX needs 6.6 or newer)'}`, 'MESH_ERR_NO_TCX', 'upgrade to Linux 6.6 or newer');
  for (const t of TOOLS) {
    const at = p.which(t.tool);
    add(t.tool, at !== undefined, at ?? 'not found on PATH', 'MESH_ERR_NO_TOOL', `npm run setup (or: apt-get install ${t.pkg})`);
  }
  const addon = p.exists(artifacts.addon);
  add('native addon', addon, addon ? artifacts.addon : `missing ${artifacts.addon}`, 'MESH_ERR_NOT_BUILT', 'npm run build');
  const obj = p.exists(artifacts.bpfObject);
  add('BPF object', obj, obj ? artifacts.bpfObject : `missing ${artifacts.bpfObject}`, 'MESH_ERR_NOT_BUILT', 'npm run build');
  const ulp = p.read('/proc/sys/net/ipv4/tcp_available_ulp');
  const ktls = ulp !== undefined && ulp.split(/\s+/).includes('tls');
  out.push({ name: 'kernel TLS', ok: ktls, required: false, detail: ktls ? 'available (tls ULP)' : `not available (ULPs: ${ulp?.trim() || 'none'}); TLS records are encrypted in user space` });
  return out;
}

export function formatChecks(results: readonly CheckResult[]): string {
  const w = Math.max(...results.map((r) => r.name.length));
  return results.map((r) => {
    const mark = r.ok ? 'ok  ' : r.required ? 'FAIL' : 'info';
    const tail = r.ok || !r.required ? r.detail : `${r.code}: ${r.detail}; fix: ${r.fix}`;
    return `${mark}  ${r.name.padEnd(w)}  ${tail}`;
  }).join('\n');
}

export async function check(argv: string[]): Promise<number> {
  const usage = usageOf(['check']);
  const { values } = parseFlags(argv, {
    pre: { type: 'boolean' },
    dataplane: { type: 'boolean' },
    cluster: { type: 'string' },
    'controller-admin': { type: 'string' },
    'agent-admin-port': { type: 'string' },
    nodes: { type: 'string' },
    'min-validity-minutes': { type: 'string' },
    kubectl: { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
  }, usage);
  if (values.pre === true) return checkPre(values);
  if (values.dataplane === true || values.cluster !== undefined || values['controller-admin'] !== undefined) return checkDataPlane(values, usage);
  const results = evaluateChecks(realProbe);
  process.stdout.write(`${formatChecks(results)}\n`);
  const failed = results.filter((r) => r.required && !r.ok);
  process.stdout.write(failed.length ? `\n${failed.length} required check(s) failed\n` : '\nall required checks passed\n');
  return failed.length ? 1 : 0;
}

async function checkPre(values: FlagValues): Promise<number> {
  const { kubeTarget, renderDeploy } = await import('./install.js');
  const { collectPre, evaluatePre } = await import('./check-pre.js');
  const t = kubeTarget(values);
  const lines = evaluatePre(await collectPre(t, await renderDeploy(t, {})));
  process.stdout.write(`${formatLines('nodemesh pre-installation checks', lines)}\n`);
  return lines.some((l) => !l.ok) ? 1 : 0;
}

async function checkDataPlane(values: FlagValues, usage: string): Promise<number> {
  const { collectHttp, collectSim, evaluateDataPlane } = await import('./check-dataplane.js');
  const minutes = intFlag(values, 'min-validity-minutes', usage, { min: 0, max: 525_600 });
  const admin = typeof values['controller-admin'] === 'string' ? values['controller-admin'] : undefined;
  const input = admin
    ? await collectHttp(admin, intFlag(values, 'agent-admin-port', usage, { min: 1, max: 65535 }) ?? 15020, 'nodemesh-system',
      typeof values.nodes === 'string' ? values.nodes.split(',').filter(Boolean) : [])
    : await collectSim(typeof values.cluster === 'string' ? values.cluster : undefined);
  const lines = evaluateDataPlane({ ...input, ...(minutes !== undefined ? { minValidityMs: minutes * 60_000 } : {}) });
  process.stdout.write(`${formatLines('nodemesh data-plane checks', lines)}\n`);
  return lines.some((l) => !l.ok) ? 1 : 0;
}
