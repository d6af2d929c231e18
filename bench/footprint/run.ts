// `npm run bench:footprint` (root): a simulated cluster whose node-a runs 100 enrolled pods with
// Services, routes and policies, agents left idle after startup; prints each agent's (and the
// controller's) RSS, peak RSS, anonymous/file RSS, threads and CPU ms/s over the idle window.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SimCluster } from '../../sim/index.js';
import { ticksPerSecond } from '../procstat.js';
import { parseProcStatTicks } from '../parse.js';
import { DEFAULT_SHAPE, footprintManifests } from './manifests.js';

const num = (name: string, dflt: number): number => {
  const v = process.env[name];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : dflt;
};

interface Sample { readonly name: string; readonly pid: number; readonly ticks0: number }

function status(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmRSS|VmHWM|RssAnon|RssFile|Threads):\s+(\d+)/.exec(l);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

const ticks = (pid: number): number => parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
const mib = (kib: number | undefined): string => (kib === undefined ? '–' : (kib / 1024).toFixed(1));

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) { process.stderr.write('bench:footprint needs root (network namespaces, BPF)\n'); return 1; }
  const idleSeconds = num('FP_IDLE_SECONDS', 30);
  const settleSeconds = num('FP_SETTLE_SECONDS', 10);
  const shape = { ...DEFAULT_SHAPE, podsA: num('FP_PODS', DEFAULT_SHAPE.podsA) };
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-footprint-'));
  writeFileSync(path.join(dir, 'footprint.yaml'), footprintManifests(shape));
  const t0 = Date.now();
  const c = await SimCluster.up({ manifestsDir: dir, onProgress: (m) => process.stderr.write(`${m}\n`), podReadyTimeoutMs: 120_000, agentReadyTimeoutMs: 120_000 });
  try {
    process.stderr.write(`cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s; settling ${settleSeconds} s, then ${idleSeconds} s idle\n`);
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    const procs: Sample[] = c.nodes.map((n) => ({ name: `agent ${n.name}`, pid: c.agentPid(n.name), ticks0: 0 }));
    const ctl = c.controllerPid;
    if (ctl) procs.push({ name: 'controller', pid: ctl, ticks0: 0 });
    const start = procs.map((p) => ({ ...p, ticks0: ticks(p.pid) }));
    const w0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const wall = Number(process.hrtime.bigint() - w0) / 1e9;
    const rows = start.map((p) => {
      const s = status(p.pid);
      const cpuMsPerS = ((ticks(p.pid) - p.ticks0) / ticksPerSecond()) * 1000 / wall;
      return { name: p.name, pid: p.pid, rss: s.VmRSS, hwm: s.VmHWM, anon: s.RssAnon, file: s.RssFile, threads: s.Threads, cpuMsPerS };
    });
    const lines = [
      `Footprint, ${shape.podsA} pods on node-a and ${shape.podsB} on node-b (${shape.apps} apps: Service + HTTPRoute + AuthorizationPolicy each), idle ${idleSeconds} s after ${settleSeconds} s settling; Node ${process.version}, ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}`,
      '',
      '| process | RSS MiB | peak RSS (VmHWM) MiB | anon MiB | file MiB | threads | CPU ms/s idle |',
      '|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.name} | ${mib(r.rss)} | ${mib(r.hwm)} | ${mib(r.anon)} | ${mib(r.file)} | ${r.threads ?? '–'} | ${r.cpuMsPerS.toFixed(2)} |`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (process.env.FP_JSON) writeFileSync(process.env.FP_JSON, JSON.stringify({ shape, idleSeconds, rows }, null, 2));
    return 0;
  } finally {
    await c.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`); process.exitCode = 1; });
