// Shared helpers of the root end-to-end tests: the root/CI gate, running tools inside pods,
// reading agent metrics and the kernel's view of our BPF objects.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../native/index.js';

/** Root tiers never skip silently: not root → skip with a message locally, fail under CI=true. */
export function rootGate(): string | false {
  if (process.getuid?.() === 0) return false;
  if (process.env.CI === 'true') throw new Error('netns tests must run as root in CI');
  return 'needs root (network namespaces, BPF): run npm test as root';
}

/** Copies a manifest file from test/netns/manifests to a fresh dir, making tool paths absolute. */
export function manifestDir(...files: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-e2e-'));
  for (const f of files) {
    const text = readFileSync(path.join(ROOT, 'test', 'netns', 'manifests', f), 'utf8').replaceAll('dist/test/', `${ROOT}/dist/test/`);
    writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

export const TCP_TOOL = path.join(ROOT, 'dist', 'test', 'netns', 'tools', 'tcp-tool.js');
export const CLI = path.join(ROOT, 'bin', 'nodemesh.js');

/** Sums the samples of a Prometheus metric whose labels include all of `match` (the demo's own reader). */
export { metricSum } from '../../cli/demo.js';

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/** Our kernel objects as the kernel lists them: tc_steer programs, links, pins, netns. */
export function kernelObjects(clusterId: string): { progs: number; links: number; pins: string[]; netns: string[] } {
  const progIds = new Set(sh('bpftool', ['prog', 'show']).split('\n').map((l) => /^(\d+): sched_cls\s+name tc_steer/.exec(l)?.[1]).filter(Boolean));
  // bpftool 7.1 prints TCX links as "type 11"; count those running one of our programs
  const links = sh('bpftool', ['link', 'show']).split('\n').filter((l) => {
    const m = /^\d+: (?:tcx|type 11)\s+prog (\d+)/.exec(l);
    return m !== null && progIds.has(m[1]);
  }).length;
  const progs = progIds.size;
  const pins = sh('find', ['/sys/fs/bpf/nodemesh', '-mindepth', '1', '-maxdepth', '1', '-name', `${clusterId}-*`]).split('\n').filter(Boolean);
  const netns = sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(`nm-${clusterId}-`));
  return { progs, links, pins, netns };
}

export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it returns true or the deadline passes; returns the elapsed ms or throws. */
export async function waitFor(what: string, f: () => Promise<boolean> | boolean, timeoutMs = 5000, stepMs = 50): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await f()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}
