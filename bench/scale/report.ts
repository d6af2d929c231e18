// The scale benchmark's report: the machine, one table with a column per source measured, the
// comparison with issue 9's aims, and the profile summary when one was taken. Markdown, for
// results/latest.md and the terminal.

import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { ScaleConfig } from './config.js';
import type { ProfileSummary } from './profile.js';
import type { MemoryReport, Usage, ViewInfo } from './protocol.js';
import { fmtBytes, fmtMs, fmtSummary, summarize, type Summary } from './stats.js';

export interface ChangeResult {
  readonly seq: number;
  readonly pod: string;
  readonly version: number;
  /** t0 → the source hands the snapshot to the controller (manifests: write, watch, parse) */
  readonly sourceMs: number;
  /** the controller's synchronous handling: model.update, per-node deltas, writes to 100 streams */
  readonly controllerMs: number;
  /** per agent: t0 → delta applied */
  readonly latencies: readonly number[];
  /** the same for the first agent of each agent process to apply it (none queued ahead in its process) */
  readonly firstInProcess: readonly number[];
  readonly applyMs: readonly number[];
  readonly bytes: readonly number[];
}

export interface PassResult {
  readonly source: 'memory' | 'manifests';
  readonly objects: number;
  readonly startMs: number;
  readonly startCpu: number;
  readonly view: ViewInfo;
  readonly ready: Usage;
  readonly idle: { readonly usage: Usage; readonly peakRss: number };
  readonly synced: { readonly usage: Usage; readonly peakRss: number };
  readonly changesMark: { readonly usage: Usage; readonly peakRss: number };
  readonly herd: { readonly fullMs: readonly number[]; readonly applyMs: readonly number[]; readonly wallMs: number };
  readonly changes: readonly ChangeResult[];
  readonly solo: { readonly ms: readonly number[]; readonly bytes: number };
  readonly agentUsage: readonly { readonly rss: number; readonly agents: number }[];
  /** CPU ms the agent processes spent per agent and delta during the changes */
  readonly agentCpuPerDelta: number;
  readonly offsets: readonly { readonly name: string; readonly offset: number; readonly bound: number }[];
  /** machine CPU during the phases: all of it, and what processes other than the benchmark's took */
  readonly cpu: Readonly<Record<'sync' | 'changes', { readonly busyPct: number; readonly foreignPct: number }>> & { readonly before: number };
  readonly memory?: MemoryReport;
  readonly profiles: Readonly<Record<string, { readonly file: string | undefined; readonly summary: ProfileSummary }>>;
}

export interface Machine { readonly line: string; readonly build: string; readonly load: string }

function sh(cmd: string, args: string[]): string {
  try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return '?'; }
}

export function machineInfo(): Machine {
  const cpu = os.cpus()[0]?.model.trim() ?? '?';
  const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no']).split('\n').filter(Boolean).length;
  return {
    line: `${os.availableParallelism()} vCPU ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}, Node ${process.version}`,
    build: `${sh('git', ['rev-parse', '--short', 'HEAD'])}${dirty ? ` (+${dirty} uncommitted tracked files)` : ''}`,
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

const MiB = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const n = (x: number): string => x.toLocaleString('en-US').replace(/,/g, ' ');
const verdict = (ok: boolean): string => (ok ? '**met**' : '**missed**');

/** Per-pass derived figures. */
export function figures(p: PassResult): {
  perAgent: Summary | undefined; firstInProcess: Summary | undefined; lastAgent: Summary | undefined; controllerMs: Summary | undefined; sourceMs: Summary | undefined;
  deltaBytes: Summary | undefined; applyMs: Summary | undefined; solo: Summary | undefined; herd: Summary | undefined;
} {
  return {
    perAgent: summarize(p.changes.flatMap((c) => c.latencies)),
    firstInProcess: summarize(p.changes.flatMap((c) => c.firstInProcess)),
    lastAgent: summarize(p.changes.map((c) => Math.max(...c.latencies))),
    controllerMs: summarize(p.changes.map((c) => c.controllerMs)),
    sourceMs: summarize(p.changes.map((c) => c.sourceMs)),
    deltaBytes: summarize(p.changes.flatMap((c) => c.bytes)),
    applyMs: summarize(p.changes.flatMap((c) => c.applyMs)),
    solo: summarize(p.solo.ms),
    herd: summarize(p.herd.fullMs),
  };
}

function table(passes: readonly PassResult[], cfg: ScaleConfig): string[] {
  const f = passes.map(figures);
  const rows: [string, (p: PassResult, i: number) => string][] = [
    ['objects in the cluster', (p) => n(p.objects)],
    ['controller start: source read + first model (ms, CPU s)', (p) => `${fmtMs(p.startMs)} ms, ${p.startCpu.toFixed(2)} s`],
    ['full view of one node, serialized', (p) => `${fmtBytes(p.view.bytes)} (${p.view.workloads} workloads, ${n(p.view.peers)} peers, ${n(p.view.services)} services, ${n(p.view.endpoints)} endpoints)`],
    [`**one agent alone: connect → full view applied**, p50 / max of ${cfg.solo}`, (_p, i) => `${fmtMs(f[i]!.solo?.p50)} / ${fmtMs(f[i]!.solo?.max)} ms`],
    [`all ${cfg.agents} agents at once: connect → full view applied, p50 / p99 / max`, (_p, i) => `${fmtSummary(f[i]!.herd)} ms`],
    ['controller CPU for that initial sync', (p) => `${(p.synced.usage.cpuSeconds - p.idle.usage.cpuSeconds).toFixed(2)} s`],
    ['controller RSS: started / after full sync / peak', (p) => `${MiB(p.ready.rss)} / ${MiB(p.synced.usage.rss)} / ${MiB(Math.max(p.synced.peakRss, p.changesMark.peakRss))}`],
    ['controller heap used after full sync', (p) => MiB(p.synced.usage.heapUsed)],
    [`**one pod change → applied by an agent**, p50 / p99 / max over ${cfg.agents} agents × ${cfg.changes} changes`, (_p, i) => `${fmtSummary(f[i]!.perAgent)} ms`],
    ['one pod change → applied by the last agent, p50 / p99 / max over changes', (_p, i) => `${fmtSummary(f[i]!.lastAgent)} ms`],
    ['one pod change → applied by the first agent of each agent process (nothing queued ahead of it), p50 / p99 / max', (_p, i) => `${fmtSummary(f[i]!.firstInProcess)} ms`],
    ['… of which t0 → snapshot handed to the controller (source), p50 / max', (_p, i) => `${fmtMs(f[i]!.sourceMs?.p50)} / ${fmtMs(f[i]!.sourceMs?.max)} ms`],
    ['… of which the controller\'s update + fan-out to all streams (synchronous), p50 / max', (_p, i) => `${fmtMs(f[i]!.controllerMs?.p50)} / ${fmtMs(f[i]!.controllerMs?.max)} ms`],
    ['delta size per agent (min / max)', (_p, i) => `${fmtBytes(f[i]!.deltaBytes?.min)} / ${fmtBytes(f[i]!.deltaBytes?.max)}`],
    ['agent CPU per delta, all of it (gRPC, decode, validation, applyUpdate, ACK)', (p) => `${fmtMs(p.agentCpuPerDelta)} ms`],
    ['agent applyUpdate of a delta, p50 / max', (_p, i) => `${fmtMs(f[i]!.applyMs?.p50)} / ${fmtMs(f[i]!.applyMs?.max)} ms`],
    ['machine CPU busy before the pass; during the initial sync / the changes (of it, other processes)', (p) => `${p.cpu.before.toFixed(0)} %; ${p.cpu.sync.busyPct.toFixed(0)} % (${p.cpu.sync.foreignPct.toFixed(0)} %) / ${p.cpu.changes.busyPct.toFixed(0)} % (${p.cpu.changes.foreignPct.toFixed(0)} %)`],
    ['agent processes: RSS per agent (each holding its view)', (p) => MiB(p.agentUsage.reduce((a, u) => a + u.rss, 0) / Math.max(1, p.agentUsage.reduce((a, u) => a + u.agents, 0)))],
  ];
  const out = [`| figure | ${passes.map((p) => `${p.source === 'memory' ? 'in-memory source' : 'manifest directory'}`).join(' | ')} |`, `|---|${passes.map(() => '---').join('|')}|`];
  for (const [label, cell] of rows) out.push(`| ${label} | ${passes.map((p, i) => cell(p, i)).join(' | ')} |`);
  return out;
}

function memoryLines(m: MemoryReport): string[] {
  const heap = (m.after.heapUsed - m.before.heapUsed) / m.views;
  const rss = (m.after.rss - m.before.rss) / m.views;
  const per = m.endpointsPerView / 1000;
  return [
    `Agent memory (a fresh process held ${m.views} NodeConfigs received over real ControllerFeeds, streams closed, heap and RSS compared after forced GCs): ` +
    `one full view (${n(m.peersPerView)} peers, ${n(m.endpointsPerView)} endpoints) costs **${fmtBytes(heap)} of heap, ${fmtBytes(rss)} of RSS**, ` +
    `i.e. **${fmtBytes(heap / per)} heap / ${fmtBytes(rss / per)} RSS per 1 000 endpoints** (with the view's peers, as many as endpoints here). ` +
    `Of the heap, the services with their endpoints take ${fmtBytes(m.servicesHeap)} per view (${fmtBytes(m.servicesHeap / per)} per 1 000 endpoints), the peers and workloads the rest.`,
    `Agent CPU per update, on real bytes (protobuf decode + fromWire + applyUpdate): full view ${fmtMs(m.fullDecodeMs)} ms, ` +
    `a one-pod delta (${fmtBytes(m.deltaBytes)}) ${fmtMs(m.deltaDecodeMs)} ms. ControllerFeed's disk cache after each ACK: ${fmtBytes(m.cacheBytes)} of JSON, ${fmtMs(m.cacheWriteMs)} ms.`,
  ];
}

function profileLines(name: string, s: ProfileSummary): string[] {
  const out = [`**Controller profile, ${name}** (${fmtMs(s.busyMs)} ms busy, ${fmtMs(s.idleMs)} ms idle)`, '', '| area | self ms | % of busy |', '|---|---|---|'];
  for (const a of s.areas.slice(0, 10)) out.push(`| ${a.area} | ${fmtMs(a.ms)} | ${a.pct.toFixed(1)} |`);
  out.push('', '| hottest functions (self) | where | ms | % |', '|---|---|---|---|');
  for (const fn of s.selfTop.slice(0, 10)) out.push(`| ${fn.fn} | ${fn.where} | ${fmtMs(fn.ms)} | ${fn.pct.toFixed(1)} |`);
  out.push('', '| our functions (inclusive) | where | ms | % |', '|---|---|---|---|');
  for (const fn of s.ownInclusiveTop.slice(0, 10)) out.push(`| ${fn.fn} | ${fn.where} | ${fmtMs(fn.ms)} | ${fn.pct.toFixed(1)} |`);
  return [...out, ''];
}

export function renderReport(cfg: ScaleConfig, m: Machine, passes: readonly PassResult[], seconds: number): string {
  const s = cfg.shape;
  const main = passes[0]!;
  const f = figures(main);
  const off = passes.flatMap((p) => p.offsets);
  const maxOff = Math.max(...off.map((o) => Math.abs(o.offset)));
  const maxBound = Math.max(...off.map((o) => o.bound));
  const lines = [
    '# Controller scale benchmark',
    '',
    `Run ${new Date().toISOString()}, ${seconds.toFixed(0)} s; ${m.line}; load average at start ${m.load}. Build ${m.build}.`,
    `Cluster: ${n(s.pods)} pods, ${n(s.services)} services (one port each, selecting their pods on distinct nodes), ${s.nodes} nodes, ${s.namespaces} namespaces (every other one meshed), ` +
    `${s.slices ? 'with EndpointSlices' : 'endpoints from selectors (no EndpointSlices)'}. ${cfg.agents} agents (ControllerFeed + applyUpdate) in ${cfg.agentProcs} processes, ` +
    `controller alone in another, all on 127.0.0.1; agents' disk cache ${cfg.agentCache ? 'on' : 'writing an empty config (see below)'}. ` +
    `${cfg.changes} measured pod changes (after ${cfg.warmup} warm-up), each a pod moved to a new IP of its node.`,
    `Clock: performance.timeOrigin + performance.now() in every process; largest measured offset between processes ${fmtMs(maxOff)} ms (± ${fmtMs(maxBound)} ms), corrected.`,
    '',
    ...table(passes, cfg),
    '',
    ...(main.memory ? [...memoryLines(main.memory), ''] : []),
    '## Against the aims',
    '',
    `- Full view ≤ 1 s: one agent alone p50 ${fmtMs(f.solo?.p50)} ms, max ${fmtMs(f.solo?.max)} ms → ${verdict((f.solo?.max ?? Infinity) <= 1000)}. ` +
    `With all ${cfg.agents} connecting at once (controller restart) the last agent waited ${fmtMs(main.herd.wallMs)} ms.`,
    `- One change to all agents ≤ 100 ms p99: p99 over agents × changes ${fmtMs(f.perAgent?.p99)} ms → ${verdict((f.perAgent?.p99 ?? Infinity) <= 100)}; ` +
    `the last of ${cfg.agents} agents: p50 ${fmtMs(f.lastAgent?.p50)} ms, max ${fmtMs(f.lastAgent?.max)} ms.`,
    '',
  ];
  for (const p of passes) for (const [k, v] of Object.entries(p.profiles)) lines.push(...profileLines(`${p.source} source, ${k === 'herd' ? 'initial sync' : 'pod changes'}`, v.summary), ...(v.file ? [`(${v.file})`, ''] : []));
  return lines.join('\n');
}
