// Child process of the scale benchmark: the controller alone on its event loop. Generates the
// synthetic cluster, serves it through an in-memory source or a manifest directory on 127.0.0.1,
// applies one pod change per command (stamping t0 just before the source hands it over), and
// reports CPU, RSS (sampled for the peak) and, on demand, V8 CPU profiles of a phase.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { runController, TokenFileAuth, type ControllerHandle } from '../../controller/src/index.js';
import { ManifestSource, type ClusterSource } from '../../controller/src/sources/index.js';
import { encodeUpdate } from './codec.js';
import { nodeName, SyntheticCluster } from './generate.js';
import { nodePodsYaml, podFile, SLICES_FILE, slicesYaml, writeManifests } from './manifests.js';
import { MemorySource } from './memory-source.js';
import { clock, exitWithParent, toParent, usage, type ControllerCmd, type SourceKind, type ViewInfo } from './protocol.js';

let ctl: ControllerHandle | undefined;
let cluster: SyntheticCluster | undefined;
let source: ClusterSource | undefined;
let kind: SourceKind = 'memory';
let dir: string | undefined;
let peakRss = 0;
let profiler: Session | undefined;
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 20);

function cleanup(): void {
  clearInterval(sampler);
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}
exitWithParent(cleanup);

/** Pod moved by change number `seq`: spread over services and nodes, never the same twice in a row. */
const podFor = (seq: number, pods: number): number => (seq * 7919 + 13) % pods;

function viewInfo(c: ControllerHandle): ViewInfo {
  const u = c.model.fullUpdate(nodeName(0));
  let endpoints = 0;
  const count = { workload: 0, peer: 0, service: 0 };
  for (const r of u.upserts) {
    if (r.type === 'service') for (const p of r.value.ports) endpoints += p.endpoints.length;
    if (r.type in count) count[r.type as keyof typeof count]++;
  }
  return { bytes: encodeUpdate(u).length, workloads: count.workload, peers: count.peer, services: count.service, endpoints };
}

async function init(m: Extract<ControllerCmd, { cmd: 'init' }>): Promise<void> {
  kind = m.source;
  cluster = new SyntheticCluster(m.shape);
  let objects = 0;
  if (kind === 'manifests') {
    dir = mkdtempSync(path.join(tmpdir(), 'nm-scale-manifests-'));
    writeManifests(cluster, dir);
    source = new ManifestSource(dir);
  } else {
    const mem = new MemorySource(cluster.objects());
    objects = mem.size;
    source = mem;
  }
  const cpu0 = usage().cpuSeconds;
  const t0 = clock();
  ctl = await runController({
    source, auth: new TokenFileAuth(new Map(m.creds.map((c) => [c.node, c.token]))),
    grpcHost: '127.0.0.1', grpcPort: 0, adminPort: -1, log: pino({ level: 'silent' }),
  });
  const startMs = clock() - t0;
  const startCpu = usage().cpuSeconds - cpu0;
  const snap = source.snapshot!;
  if (snap.problems.length > 0) throw new Error(`generated objects rejected: ${JSON.stringify(snap.problems.slice(0, 3))}`);
  if (kind === 'manifests') objects = Object.values(snap.resources).reduce((a: number, r: ReadonlyMap<string, unknown>) => a + r.size, 0);
  toParent({ kind: 'ready', port: ctl.grpcPort, objects, startMs, startCpu, view: viewInfo(ctl), usage: usage() });
}

function change(seq: number): void {
  const c = cluster!;
  const p = podFor(seq, c.shape.pods);
  const changed = c.movePod(p);
  const before = ctl!.model.version;
  const src = source!;
  let tEmit = 0;
  const done = (t0: number): void => {
    // a snapshot read mid-write (manifests) may change nothing: wait for the one that does
    const onEmit = (): void => { tEmit = clock(); };
    const onUpdate = (): void => {
      if (ctl!.model.version === before) return;
      const tDone = clock();
      src.off('update', onEmit).off('update', onUpdate);
      toParent({ kind: 'changed', seq, version: ctl!.model.version, pod: c.pods[p]!.key, t0, tEmit, tDone });
    };
    src.prependListener('update', onEmit);
    src.on('update', onUpdate);
  };
  if (source instanceof MemorySource) {
    const snap = source.prepare(changed);
    const t0 = clock();
    done(t0);
    source.publish(snap);
  } else {
    const node = c.pods[p]!.node;
    const pods = nodePodsYaml(c, node);
    const slices = c.shape.slices ? slicesYaml(c) : undefined;
    const t0 = clock();
    done(t0);
    writeFileSync(path.join(dir!, podFile(node)), pods);
    if (slices !== undefined) writeFileSync(path.join(dir!, SLICES_FILE), slices);
  }
}

async function profile(action: 'start' | 'stop', file?: string): Promise<void> {
  if (action === 'start') {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
    toParent({ kind: 'profiled' });
    return;
  }
  const { profile: prof } = await profiler!.post('Profiler.stop');
  profiler!.disconnect();
  profiler = undefined;
  if (file) writeFileSync(file, JSON.stringify(prof));
  toParent({ kind: 'profiled', ...(file ? { file } : {}) });
}

process.on('message', (m: ControllerCmd) => {
  const fail = (e: unknown): void => toParent({ kind: 'error', message: (e as Error).stack ?? String(e) });
  try {
    switch (m.cmd) {
      case 'init': init(m).catch(fail); break;
      case 'mark': toParent({ kind: 'mark', name: m.name, usage: usage(), peakRss: Math.max(peakRss, process.memoryUsage.rss()) }); break;
      case 'change': change(m.seq); break;
      case 'profile': profile(m.action, m.file).catch(fail); break;
      case 'ping': toParent({ kind: 'pong', remote: clock() }); break;
      case 'stop':
        (ctl ? ctl.stop() : Promise.resolve()).finally(() => { cleanup(); process.exit(0); });
        break;
    }
  } catch (e) {
    fail(e);
  }
});
