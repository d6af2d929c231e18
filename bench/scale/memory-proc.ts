// Child process of the scale benchmark (run with --expose-gc): what a full view costs an agent.
// Heap and RSS after a forced GC, before and after holding N NodeConfigs received from the
// controller through real ControllerFeeds (streams closed again); the difference per view and per
// 1 000 endpoints. Also the agent's CPU per update on real bytes, and its disk-cache write.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { ControllerFeed } from '../../agent/src/config/index.js';
import { applyUpdate, emptyConfig, type ConfigResource, type ConfigUpdate, type NodeConfig } from '../../controller/src/views/index.js';
import { decodeUpdate, encodeUpdate } from './codec.js';
import { clock, exitWithParent, toParent, usage, type AgentsCmd, type NodeCred, type Usage } from './protocol.js';
import { percentile } from './stats.js';

const gc = (globalThis as { gc?: () => void }).gc;
let stateRoot: string | undefined;
const cleanup = (): void => { if (stateRoot) rmSync(stateRoot, { recursive: true, force: true }); stateRoot = undefined; };
exitWithParent(cleanup);

async function settled(): Promise<Usage> {
  for (let i = 0; i < 4; i++) { gc!(); await sleep(50); }
  return usage();
}

function resources(cfg: NodeConfig): ConfigResource[] {
  return [
    ...[...cfg.workloads].map(([key, value]) => ({ type: 'workload' as const, key, value })),
    ...[...cfg.peers].map(([key, value]) => ({ type: 'peer' as const, key, value })),
    ...[...cfg.services].map(([key, value]) => ({ type: 'service' as const, key, value })),
  ];
}

/** Median ms of `n` runs of f. */
function timeIt(n: number, f: () => void): number {
  const t: number[] = [];
  for (let i = 0; i < n; i++) { const a = clock(); f(); t.push(clock() - a); }
  return percentile(t, 50);
}

async function hold(address: string, creds: readonly NodeCred[]): Promise<NodeConfig[]> {
  const cfgs: (NodeConfig | undefined)[] = creds.map(() => undefined);
  const feeds = creds.map((c) => new ControllerFeed({
    address, node: c.node, token: c.token, stateDir: path.join(stateRoot!, c.node), log: pino({ level: 'silent' }),
    current: () => emptyConfig(),
  }));
  await Promise.all(feeds.map((f, i) => f.start((u) => { cfgs[i] = applyUpdate(cfgs[i], u); })));
  const t0 = clock();
  while (cfgs.some((c) => c === undefined)) {
    if (clock() - t0 > 60_000) throw new Error('memory probe: full views did not arrive within 60 s');
    await sleep(20);
  }
  for (const f of feeds) f.close();
  return cfgs as NodeConfig[];
}

async function measure(address: string, creds: readonly NodeCred[]): Promise<void> {
  if (!gc) throw new Error('memory-proc needs --expose-gc');
  stateRoot = mkdtempSync(path.join(tmpdir(), 'nm-scale-mem-'));
  await sleep(200);
  const before = await settled();
  const held = await hold(address, creds);
  await sleep(300);
  const after = await settled();
  const cfg = held[0]!;
  let endpoints = 0;
  for (const s of cfg.services.values()) for (const p of s.ports) endpoints += p.endpoints.length;
  // the services' share: as many more copies holding only the services (and their endpoints)
  const svcBytes = encodeUpdate({ version: cfg.version, full: true, removes: [], upserts: [...cfg.services].map(([key, value]) => ({ type: 'service' as const, key, value })) });
  const servicesOnly = held.map(() => applyUpdate(undefined, decodeUpdate(svcBytes)));
  const withServices = await settled();
  const servicesHeap = (withServices.heapUsed - after.heapUsed) / servicesOnly.length;

  // agent CPU per update on real bytes: a full view, and a delta moving one peer and its service
  const full: ConfigUpdate = { version: cfg.version, full: true, upserts: resources(cfg), removes: [] };
  const fullBytes = encodeUpdate(full);
  const fullDecodeMs = timeIt(5, () => applyUpdate(undefined, decodeUpdate(fullBytes)));
  const svc = [...cfg.services.values()].find((s) => s.ports[0]?.endpoints.length)!;
  const ep = svc.ports[0]!.endpoints[0]!;
  const peer = [...cfg.peers.values()].find((p) => p.ip === ep.ip)!;
  const moved = { ...peer, ip: '10.127.255.250' };
  const delta: ConfigUpdate = {
    version: cfg.version + 1, full: false, removes: [],
    upserts: [{ type: 'peer', key: `${peer.namespace}/${peer.name}`, value: moved },
      { type: 'service', key: `${svc.namespace}/${svc.name}`, value: { ...svc, ports: svc.ports.map((p, i) => (i === 0 ? { ...p, endpoints: [{ ...ep, ip: moved.ip }, ...p.endpoints.slice(1)] } : p)) } }],
  };
  const deltaBytes = encodeUpdate(delta);
  const deltaDecodeMs = timeIt(200, () => applyUpdate(cfg, decodeUpdate(deltaBytes)));
  let cacheBytes = 0;
  const cacheFile = path.join(stateRoot, 'config.json');
  const cacheWriteMs = timeIt(5, () => {
    const text = JSON.stringify({ version: cfg.version, resources: resources(cfg) });
    cacheBytes = Buffer.byteLength(text);
    writeFileSync(cacheFile, text);
  });
  toParent({ kind: 'memory', report: {
    views: held.length, endpointsPerView: endpoints, peersPerView: cfg.peers.size, before, after, servicesHeap,
    fullDecodeMs, deltaDecodeMs, deltaBytes: deltaBytes.length, cacheWriteMs, cacheBytes,
  } });
}

process.on('message', (m: AgentsCmd) => {
  if (m.cmd === 'init') measure(m.address, m.creds).catch((e: unknown) => toParent({ kind: 'error', message: (e as Error).stack ?? String(e) }));
  if (m.cmd === 'stop') { cleanup(); process.exit(0); }
});
