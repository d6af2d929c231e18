// Controller scale benchmark (issue 9): a synthetic cluster of PODS pods and SERVICES services over
// NODES nodes, the controller in one child process on 127.0.0.1, one real gRPC agent per node spread
// over AGENT_PROCS child processes. Measures the full-view time, the fan-out of one pod change to
// every agent, controller CPU and RSS, and agent memory per 1 000 endpoints; writes results/latest.*.

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'node:events';
import { Child, killAll, until } from './children.js';
import { scaleConfig, split, type ScaleConfig } from './config.js';
import { nodeName } from './generate.js';
import { summarizeProfile } from './profile.js';
import { cpuShare, cpuSnapshot } from './procstat.js';
import { clock, type AgentsCmd, type AgentsReply, type ControllerCmd, type ControllerReply, type DeltaReport, type FullReport, type MemoryReport, type NodeCred, type SourceKind } from './protocol.js';
import { machineInfo, renderReport, type ChangeResult, type PassResult } from './report.js';
import { clockOffset, type PingSample } from './stats.js';

type Ctl = Child<ControllerCmd, ControllerReply>;
type Agents = Child<AgentsCmd, AgentsReply>;
const RESULTS = fileURLToPath(new URL('../../../bench/scale/results/', import.meta.url));

function is<K extends ControllerReply['kind']>(k: K) {
  return (r: ControllerReply): r is Extract<ControllerReply, { kind: K }> => r.kind === k;
}
function isA<K extends AgentsReply['kind']>(k: K) {
  return (r: AgentsReply): r is Extract<AgentsReply, { kind: K }> => r.kind === k;
}

/** remote − orchestrator clock offset of a child, from 20 pings; `ping` resolves with the child's stamp. */
async function offsetOf(name: string, ping: () => Promise<number>): Promise<{ name: string; offset: number; bound: number }> {
  const samples: PingSample[] = [];
  for (let i = 0; i < 20; i++) {
    const sent = clock();
    const remote = await ping();
    samples.push({ sent, remote, received: clock() });
  }
  return { name, ...clockOffset(samples) };
}

/** Waits (up to 60 s) for the machine to be mostly idle; returns the busy % last seen. */
async function quiet(log: (s: string) => void): Promise<number> {
  let busy = 100;
  for (let i = 0; i < 30; i++) {
    const a = cpuSnapshot([]);
    await sleep(2000);
    busy = cpuShare(a, cpuSnapshot([])).busyPct;
    if (busy < 15) return busy;
    if (i === 0) log(`machine ${busy.toFixed(0)} % busy before the pass; waiting up to 60 s for it to settle`);
  }
  return busy;
}

async function pass(cfg: ScaleConfig, source: SourceKind, creds: readonly NodeCred[], main: boolean): Promise<PassResult> {
  const log = (s: string): void => console.error(`[scale ${source}] ${s}`);
  const busyBefore = await quiet(log);
  const ctl: Ctl = new Child('controller', './controller-proc.js');
  const groups: Agents[] = [];
  try {
    ctl.send({ cmd: 'init', shape: cfg.shape, source, creds });
    const ready = await ctl.next(is('ready'), 170_000, 'controller ready');
    log(`controller pid ${ctl.pid} on port ${ready.port}: ${ready.objects} objects, started in ${ready.startMs.toFixed(0)} ms`);
    const address = `127.0.0.1:${ready.port}`;
    const agentCreds = creds.slice(0, cfg.agents);
    split(agentCreds, cfg.agentProcs).forEach((g, i) => {
      const a: Agents = new Child(`agents-${i}`, './agents-proc.js');
      a.send({ cmd: 'init', address, creds: g, cache: cfg.agentCache });
      groups.push(a);
    });
    await Promise.all(groups.map((g) => g.next(isA('ready'), 30_000, 'ready')));
    const offsets = await Promise.all([
      offsetOf(ctl.name, async () => { ctl.send({ cmd: 'ping' }); return (await ctl.next(is('pong'), 5000, 'pong')).remote; }),
      ...groups.map((g) => offsetOf(g.name, async () => { g.send({ cmd: 'ping' }); return (await g.next(isA('pong'), 5000, 'pong')).remote; })),
    ]);
    const off = new Map(offsets.map((o) => [o.name, o.offset]));

    const full: FullReport[] = [];
    const deltas: (DeltaReport & { group: string })[] = [];
    const progress = new EventEmitter();
    for (const g of groups) {
      g.on('reply', (r: AgentsReply) => {
        if (r.kind !== 'reports') return;
        full.push(...r.full);
        for (const d of r.deltas) deltas.push({ ...d, group: g.name });
        progress.emit('reply', r);
      });
      g.on('failure', (e: Error) => progress.emit('failure', e));
    }
    ctl.on('failure', (e: Error) => progress.emit('failure', e));

    // 1. initial sync: every agent connects at once
    ctl.send({ cmd: 'mark', name: 'idle' });
    const idle = await ctl.next(is('mark'), 5000, 'mark');
    const profiles: { herd?: string; fanout?: string } = {};
    const profileFile = (phase: string): string => `${RESULTS}controller-${source}-${phase}.cpuprofile`;
    if (cfg.profile && main) { ctl.send({ cmd: 'profile', action: 'start' }); await ctl.next(is('profiled'), 10_000, 'profiler'); }
    const pids = [process.pid, ctl.pid, ...groups.map((g) => g.pid)];
    const cpuHerd0 = cpuSnapshot(pids);
    const tConnect = clock();
    for (const g of groups) g.send({ cmd: 'connect' });
    await until(progress, () => full.length >= agentCreds.length, 170_000, 'every full view');
    const herdWallMs = Math.max(...full.map((f) => f.tApplied)) - tConnect;
    ctl.send({ cmd: 'mark', name: 'synced' });
    const synced = await ctl.next(is('mark'), 5000, 'mark');
    const cpuHerd = cpuShare(cpuHerd0, cpuSnapshot(pids));
    if (cfg.profile && main) { ctl.send({ cmd: 'profile', action: 'stop', file: profileFile('sync') }); profiles.herd = (await ctl.next(is('profiled'), 30_000, 'profile')).file; }
    log(`${full.length} agents synced in ${herdWallMs.toFixed(0)} ms`);
    await sleep(1000);

    // 2. fan-out: one pod change at a time, until every agent has applied it
    if (cfg.profile && main) { ctl.send({ cmd: 'profile', action: 'start' }); await ctl.next(is('profiled'), 10_000, 'profiler'); }
    const groupUsage = (): Promise<Extract<AgentsReply, { kind: 'usage' }>[]> => Promise.all(groups.map(async (g) => { g.send({ cmd: 'usage' }); return g.next(isA('usage'), 5000, 'usage'); }));
    const agentUsage0 = await groupUsage();
    const changes: ChangeResult[] = [];
    const cpuChanges0 = cpuSnapshot(pids);
    for (let seq = 0; seq < cfg.warmup + cfg.changes; seq++) {
      ctl.send({ cmd: 'change', seq });
      const c = await ctl.next((r): r is Extract<ControllerReply, { kind: 'changed' }> => r.kind === 'changed' && r.seq === seq, 20_000, `change ${seq}`);
      const mine = (): (DeltaReport & { group: string })[] => deltas.filter((d) => d.version === c.version);
      await until(progress, () => new Set(mine().map((d) => d.node)).size >= agentCreds.length, 30_000, `change ${seq} on every agent`);
      if (seq >= cfg.warmup) {
        const t0 = c.t0 - off.get('controller')!;
        const got = mine();
        changes.push({
          seq, pod: c.pod, version: c.version, sourceMs: c.tEmit - c.t0, controllerMs: c.tDone - c.tEmit,
          latencies: got.map((d) => d.tApplied - off.get(d.group)! - t0),
          firstInProcess: got.filter((d) => d.order === 0).map((d) => d.tApplied - off.get(d.group)! - t0),
          applyMs: got.map((d) => d.applyMs), bytes: got.map((d) => d.bytes),
        });
      }
      await sleep(100);
    }
    if (cfg.profile && main) { ctl.send({ cmd: 'profile', action: 'stop', file: profileFile('changes') }); profiles.fanout = (await ctl.next(is('profiled'), 30_000, 'profile')).file; }
    const cpuChanges = cpuShare(cpuChanges0, cpuSnapshot(pids));
    ctl.send({ cmd: 'mark', name: 'changes' });
    const afterChanges = await ctl.next(is('mark'), 5000, 'mark');
    log(`${changes.length} changes measured`);
    const agentUsage = await groupUsage();
    // everything the agent processes did per applied delta: HTTP/2, decode, validation, apply, ACK
    const agentCpuPerDelta = (1000 * agentUsage.reduce((a, u, i) => a + u.usage.cpuSeconds - agentUsage0[i]!.usage.cpuSeconds, 0)) / ((cfg.warmup + cfg.changes) * agentCreds.length);

    // 3. one agent alone: connect → full view applied
    const solo: number[] = [];
    let soloBytes = 0;
    for (let k = 0; k < cfg.solo; k++) {
      groups[0]!.send({ cmd: 'probe', cred: creds[(k * 37 + 5) % creds.length]! });
      const r = await groups[0]!.next(isA('probed'), 60_000, 'probe');
      solo.push(r.ms);
      soloBytes = r.bytes;
      await sleep(200);
    }

    // 4. the memory probe: NodeConfigs held by a fresh process
    let memory: MemoryReport | undefined;
    if (main) {
      const m: Agents = new Child('memory', './memory-proc.js', ['--expose-gc']);
      try {
        m.send({ cmd: 'init', address, creds: creds.slice(0, cfg.memViews), cache: false });
        memory = (await m.next(isA('memory'), 120_000, 'memory report')).report;
      } finally {
        await m.stop({ cmd: 'stop' });
      }
    }
    return {
      source, objects: ready.objects, startMs: ready.startMs, startCpu: ready.startCpu, view: ready.view, ready: ready.usage,
      idle: { usage: idle.usage, peakRss: idle.peakRss }, synced: { usage: synced.usage, peakRss: synced.peakRss },
      changesMark: { usage: afterChanges.usage, peakRss: afterChanges.peakRss },
      herd: { fullMs: full.map((f) => f.tApplied - f.tStart), applyMs: full.map((f) => f.applyMs), wallMs: herdWallMs },
      changes, solo: { ms: solo, bytes: soloBytes }, agentUsage: agentUsage.map((u) => ({ rss: u.usage.rss, agents: u.agents })), agentCpuPerDelta,
      offsets, cpu: { before: busyBefore, sync: cpuHerd, changes: cpuChanges }, ...(memory ? { memory } : {}), profiles: Object.fromEntries(Object.entries(profiles).map(([k, f]) => [k, { file: f, summary: summarizeProfile(f) }])),
    };
  } finally {
    await Promise.all(groups.map((g) => g.stop({ cmd: 'stop' })));
    await ctl.stop({ cmd: 'stop' });
  }
}

async function main(): Promise<void> {
  const cfg = scaleConfig();
  mkdirSync(RESULTS, { recursive: true });
  const creds: NodeCred[] = Array.from({ length: cfg.shape.nodes }, (_, k) => ({ node: nodeName(k), token: randomBytes(16).toString('hex') }));
  const t0 = clock();
  const machine = machineInfo();
  const passes: PassResult[] = [];
  for (const [i, s] of cfg.sources.entries()) passes.push(await pass(cfg, s, creds, i === 0));
  const md = renderReport(cfg, machine, passes, (clock() - t0) / 1000);
  writeFileSync(`${RESULTS}latest.json`, JSON.stringify({ config: cfg, machine, passes }, null, 1));
  writeFileSync(`${RESULTS}latest.md`, md);
  console.log(md);
}

main().catch((e: unknown) => {
  console.error((e as Error).stack ?? String(e));
  killAll();
  process.exit(1);
});
