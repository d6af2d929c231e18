// `npm run bench:footprint` (root): a simulated cluster whose node-a runs 100 enrolled pods with
// Services, routes and policies, agents left idle after startup; prints each agent's (and the
// controller's) RSS, peak RSS, anonymous/file RSS, threads and CPU ms/s over the idle window.

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI_PATH, SimCluster } from '../../sim/index.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../../common/agent-process.js';
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

/** Direct children of pid, from /proc/PID/stat (field 4 is the parent). */
function childrenOf(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = st.lastIndexOf(')');
      const ppid = Number(st.slice(close + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(d), comm: st.slice(st.indexOf('(') + 1, close) });
    } catch { /* gone */ }
  }
  return out;
}

/** utime+stime per thread, keyed "name/tid". */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        out.set(`${st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'))}/${tid}`, parseProcStatTicks(st));
      } catch { /* gone */ }
    }
  } catch { /* gone */ }
  return out;
}

/** Rss KiB per mapped file (anonymous mappings as "[anon]"), largest first, from /proc/PID/smaps. */
function topMappings(pid: number, n: number): [string, number][] {
  const by = new Map<string, number>();
  let cur = '[anon]';
  for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(l);
    if (head) { cur = head[1] ? path.basename(head[1]) : '[anon]'; continue; }
    const m = /^Rss:\s+(\d+)/.exec(l);
    if (m) by.set(cur, (by.get(cur) ?? 0) + Number(m[1]));
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, n);
}

const ticks = (pid: number): number => parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
const mib = (kib: number | undefined): string => (kib === undefined ? '–' : (kib / 1024).toFixed(1));

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) { process.stderr.write('bench:footprint needs root (network namespaces, BPF)\n'); return 1; }
  const idleSeconds = num('FP_IDLE_SECONDS', 30);
  const settleSeconds = num('FP_SETTLE_SECONDS', 20);
  const shape = { ...DEFAULT_SHAPE, podsA: num('FP_PODS', DEFAULT_SHAPE.podsA) };
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-footprint-'));
  writeFileSync(path.join(dir, 'footprint.yaml'), footprintManifests(shape));
  const t0 = Date.now();
  // FP_NODE_FLAGS: the agents' V8/Node flags instead of AGENT_NODE_FLAGS (to compare settings;
  // "" for none), e.g. "--max-semi-space-size=4"
  const flags = process.env.FP_NODE_FLAGS !== undefined ? process.env.FP_NODE_FLAGS.split(' ').filter(Boolean) : [...AGENT_NODE_FLAGS];
  // FP_AGENT_ENV: environment for the agents on top of AGENT_ENV, e.g. "MALLOC_ARENA_MAX=8"
  const env = (process.env.FP_AGENT_ENV ?? '').split(' ').filter(Boolean);
  const agentCommand = [...(env.length ? ['env', ...env, process.execPath] : ['node']), ...flags, CLI_PATH, 'agent'];
  process.stderr.write(`agents run: ${[...Object.entries(AGENT_ENV).map(([k, v]) => `${k}=${v}`), ...env, 'node', ...flags].join(' ')} nodemesh agent …\n`);
  const c = await SimCluster.up({ manifestsDir: dir, agentCommand, onProgress: (m) => process.stderr.write(`${m}\n`), podReadyTimeoutMs: 120_000, agentReadyTimeoutMs: 120_000 });
  try {
    process.stderr.write(`cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s; settling ${settleSeconds} s, then ${idleSeconds} s idle\n`);
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    const procs: Sample[] = [];
    for (const n of c.nodes) {
      const pid = c.agentPid(n.name);
      procs.push({ name: `agent ${n.name}`, pid, ticks0: 0 });
      // the agent's helpers (its `ip monitor`) count too, as rows of their own
      for (const ch of childrenOf(pid)) procs.push({ name: `  └ ${ch.comm} (agent ${n.name})`, pid: ch.pid, ticks0: 0 });
    }
    const ctl = c.controllerPid;
    if (ctl) procs.push({ name: 'controller', pid: ctl, ticks0: 0 });
    const start = procs.map((p) => ({ ...p, ticks0: ticks(p.pid) }));
    const threads0 = new Map(procs.map((p) => [p.pid, threadTicks(p.pid)]));
    const w0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const wall = Number(process.hrtime.bigint() - w0) / 1e9;
    const rows = start.map((p) => {
      const s = status(p.pid);
      const cpuMsPerS = ((ticks(p.pid) - p.ticks0) / ticksPerSecond()) * 1000 / wall;
      return { name: p.name, pid: p.pid, rss: s.VmRSS, hwm: s.VmHWM, anon: s.RssAnon, file: s.RssFile, threads: s.Threads, cpuMsPerS };
    });
    const lines = [
      `Footprint${flags.length || env.length ? ` (agents with ${[...env, ...flags].join(' ')})` : ''}, ${shape.podsA} pods on node-a and ${shape.podsB} on node-b (${shape.apps} apps: Service + HTTPRoute + AuthorizationPolicy each), idle ${idleSeconds} s after ${settleSeconds} s settling; Node ${process.version}, ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}`,
      '',
      '| process | RSS MiB | peak RSS (VmHWM) MiB | anon MiB | file MiB | threads | CPU ms/s idle |',
      '|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.name} | ${mib(r.rss)} | ${mib(r.hwm)} | ${mib(r.anon)} | ${mib(r.file)} | ${r.threads ?? '–'} | ${r.cpuMsPerS.toFixed(2)} |`),
    ];
    lines.push('', 'CPU ms/s by thread (threads that used any):', '');
    for (const p of start) {
      const t0 = threads0.get(p.pid) ?? new Map<string, number>();
      const busy = [...threadTicks(p.pid)].map(([k, v]) => [k, ((v - (t0.get(k) ?? 0)) / ticksPerSecond()) * 1000 / wall] as const).filter(([, v]) => v > 0);
      if (busy.length) lines.push(`- ${p.name.trim()}: ${busy.sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
    }
    lines.push('');
    for (const n of c.nodes) {
      try {
        const m = (JSON.parse((await c.agentGet(n.name, '/config_dump')).body) as { memory?: Record<string, number> }).memory;
        if (m) lines.push(`- agent ${n.name} process.memoryUsage() MiB: ${Object.entries(m).map(([k, v]) => `${k} ${(v / 1048576).toFixed(1)}`).join(', ')}`);
      } catch { /* the table above stands without it */ }
    }
    const first = start[0];
    if (first) lines.push('', `RSS of ${first.name} by mapping (top 8, MiB): ${topMappings(first.pid, 8).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}`).join(', ')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (process.env.FP_JSON) writeFileSync(process.env.FP_JSON, JSON.stringify({ shape, idleSeconds, rows }, null, 2));
    return 0;
  } finally {
    await c.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`); process.exitCode = 1; });
