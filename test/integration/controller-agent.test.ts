// Controller and agent config feeds in one process over real gRPC on port 0: full view then
// deltas, only the node's own workloads, ACK/NACK (a NACKed version changes nothing and the next
// push is a full view), node credentials, garbage on a stream, reconnect, and the disk cache.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { runController, TokenFileAuth, type ControllerHandle } from '../../controller/src/index.js';
import { ManifestSource } from '../../controller/src/sources/index.js';
import { ConfigServiceClient, grpc } from '../../controller/src/grpc/index.js';
import { applyUpdate, type ConfigUpdate, type NodeConfig } from '../../controller/src/views/index.js';
import { ControllerFeed } from '../../agent/src/config/index.js';

const silent = pino({ level: 'silent' });
const TOKENS = new Map([['node-a', 'tok-a'], ['node-b', 'tok-b']]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, f: () => boolean, ms = 3000): Promise<number> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
  return Date.now() - t0;
}

const ns = (label: string): string => `apiVersion: v1\nkind: Namespace\nmetadata: { name: shop${label} }\n`;
const pod = (name: string, node: string, ip: string): string => `---\napiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: shop, labels: { app: web } }\nspec: { nodeName: ${node}, containers: [{ name: c, ports: [{ name: http, containerPort: 8080 }] }] }\nstatus: { podIP: ${ip} }\n`;
const SVC = '---\napiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: shop }\nspec: { clusterIP: 10.96.0.10, selector: { app: web }, ports: [{ port: 80, targetPort: http }] }\n';

class Agent {
  cfg: NodeConfig | undefined;
  updates: ConfigUpdate[] = [];
  rejectVersion = -1;
  readonly feed: ControllerFeed;
  constructor(address: string, node: string, token: string, readonly stateDir: string) {
    this.feed = new ControllerFeed({ address, node, token, stateDir, current: () => this.cfg!, log: silent, backoffMs: { min: 50, max: 200 } });
  }
  start(): Promise<void> {
    return this.feed.start((u) => {
      if (u.version === this.rejectVersion) throw new Error('test rejects this version');
      this.cfg = applyUpdate(this.cfg, u);
      this.updates.push(u);
    });
  }
}

describe('controller ⇄ agent over gRPC', { timeout: 60_000 }, () => {
  let dir: string;
  let state: string;
  let ctl: ControllerHandle;
  let address: string;
  const agents: Agent[] = [];

  const startCtl = async (port = 0): Promise<void> => {
    ctl = await runController({ source: new ManifestSource(dir), auth: new TokenFileAuth(TOKENS), grpcHost: '127.0.0.1', grpcPort: port, adminPort: -1, log: silent });
    address = `127.0.0.1:${ctl.grpcPort}`;
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nm-int-'));
    state = mkdtempSync(path.join(tmpdir(), 'nm-int-state-'));
    writeFileSync(path.join(dir, 'ns.yaml'), ns(''));
    writeFileSync(path.join(dir, 'pods.yaml'), pod('a1', 'node-a', '10.200.1.10') + pod('b1', 'node-b', '10.200.2.10') + SVC);
    await startCtl();
  });

  after(async () => {
    for (const a of agents) a.feed.close();
    await ctl.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  test('full view first: own workloads only, every peer, services with resolved endpoints', async () => {
    const a = new Agent(address, 'node-a', 'tok-a', path.join(state, 'a'));
    agents.push(a);
    await a.start();
    await until('first config', () => a.cfg !== undefined);
    assert.equal(a.updates[0]!.full, true);
    assert.deepEqual([...a.cfg!.workloads.keys()], ['shop/a1']);
    assert.deepEqual([...a.cfg!.peers.keys()].sort(), ['shop/a1', 'shop/b1']);
    const svc = a.cfg!.services.get('shop/web')!;
    assert.equal(svc.vip, '10.96.0.10');
    assert.deepEqual(svc.ports[0]!.endpoints.map((e) => `${e.ip}:${e.port}@${e.node}`), ['10.200.1.10:8080@node-a', '10.200.2.10:8080@node-b']);
    assert.equal(a.cfg!.workloads.get('shop/a1')!.meshed, false);
    await until('ACK recorded', () => a.feed.status().connected);
  });

  test('a label change reaches the agent as a small delta within 1 s', async () => {
    const a = agents[0]!;
    const n = a.updates.length;
    writeFileSync(path.join(dir, 'ns.yaml'), ns(', labels: { nodemesh.io/mesh: enabled }'));
    const ms = await until('delta', () => a.cfg!.workloads.get('shop/a1')!.meshed, 2000);
    assert.ok(ms < 1000, `${ms} ms`);
    const d = a.updates[n]!;
    assert.equal(d.full, false);
    assert.ok(d.upserts.every((r) => r.type === 'workload' || r.type === 'peer'), 'only the changed resources');
    assert.ok(!d.upserts.some((r) => r.type === 'workload' && r.value.node !== 'node-a'), 'no other node\'s workloads');
  });

  test('a NACKed version changes nothing; the controller answers with a full view', async () => {
    const a = agents[0]!;
    const before = a.cfg!;
    const nacks0 = (await ctl.metrics.nacks.get()).values[0]?.value ?? 0;
    a.rejectVersion = ctl.model.version + 1;
    writeFileSync(path.join(dir, 'pods.yaml'), pod('a1', 'node-a', '10.200.1.10') + pod('a2', 'node-a', '10.200.1.11') + pod('b1', 'node-b', '10.200.2.10') + SVC);
    await until('NACK counted', () => a.feed.status().detail !== undefined && (a.feed.status().detail as { nacks: number }).nacks === 1);
    assert.equal(a.cfg, before, 'the rejected version was not applied');
    // The controller counts the NACK when it reads it, which may be after the agent counted it.
    const t0 = Date.now();
    while (((await ctl.metrics.nacks.get()).values[0]?.value ?? 0) <= nacks0) {
      assert.ok(Date.now() - t0 < 3000, 'the controller never counted the NACK');
      await sleep(10);
    }
    a.rejectVersion = -1;
    writeFileSync(path.join(dir, 'pods.yaml'), pod('a1', 'node-a', '10.200.1.10') + pod('a2', 'node-a', '10.200.1.12') + pod('b1', 'node-b', '10.200.2.10') + SVC);
    await until('full view after the NACK', () => a.updates.at(-1)!.full && a.cfg!.workloads.has('shop/a2'));
    assert.equal(a.cfg!.workloads.get('shop/a2')!.ip, '10.200.1.12');
  });

  test('credentials: a wrong token or another node\'s name is refused; others are unaffected', async () => {
    for (const [node, token] of [['node-b', 'tok-a'], ['node-a', 'nope'], ['node-z', 'tok-a']] as const) {
      const bad = new Agent(address, node, token, path.join(state, 'bad'));
      await bad.start();
      await until(`refusal of ${node}`, () => /not valid for node/.test(bad.feed.status().lastError ?? ''));
      assert.equal(bad.cfg, undefined, 'no config was sent');
      bad.feed.close();
    }
    assert.equal(agents[0]!.feed.status().connected, true);
  });

  test('garbage on a stream closes that stream only', async () => {
    const client = new ConfigServiceClient(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { stream(): grpc.ClientDuplexStream<object, object> };
    const call = client.stream();
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      call.on('error', resolve);
      call.on('data', () => undefined);
      call.write({ ack: { version: 3 } });
    });
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    client.close();
    assert.equal(agents[0]!.feed.status().connected, true);
  });

  test('controller restart: the agent keeps its config, reconnects and resyncs', async () => {
    const a = agents[0]!;
    const port = ctl.grpcPort;
    const kept = a.cfg!;
    await ctl.stop();
    await until('disconnect noticed', () => !a.feed.status().connected);
    assert.equal(a.cfg, kept, 'still serving the last good config');
    await startCtl(port);
    await until('resynced', () => a.feed.status().connected && a.updates.at(-1)!.full, 10_000);
    assert.deepEqual([...a.cfg!.workloads.keys()].sort(), ['shop/a1', 'shop/a2']);
  });

  test('an agent started while the controller is down runs on its cached config', async () => {
    await sleep(400); // the cache write trails the last ACK by up to 200 ms
    const b = new Agent('127.0.0.1:1', 'node-a', 'tok-a', path.join(state, 'a'));
    await b.start();
    assert.ok(b.cfg, 'config loaded from disk before any controller answered');
    assert.deepEqual([...b.cfg!.workloads.keys()].sort(), ['shop/a1', 'shop/a2']);
    assert.equal(b.feed.status().connected, false);
    b.feed.close();
  });
});
