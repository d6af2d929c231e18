// The same capture on another cluster shape (three nodes, other ports), and the promise that a
// new connection never waits on the agent's JavaScript event loop: with the loop of both agents
// on the path blocked for 3 s, meshed requests still complete at once.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { SimCluster } from '../../sim/index.js';
import { CLI, kernelObjects, manifestDir, metricSum, rootGate, waitFor } from './helpers.js';

const skip = rootGate();

describe('three nodes, other ports', { skip, timeout: 300_000 }, () => {
  let c: SimCluster;
  let dir: string;
  const PORTS: Record<string, number> = { s1: 7001, s2: 7002, s3: 7003 };

  async function get(from: string, to: string): Promise<{ ms: number; body: any }> {
    const url = `http://${c.pod(to).ip}:${PORTS[to.split('/')[1]!]}/`;
    const t0 = Date.now();
    const r = await c.exec(from, [process.execPath, CLI, 'workload', 'get', url, '--timeout-ms', '5000'], { timeoutMs: 15000 });
    assert.equal(r.code, 0, `GET ${url} from ${from}: ${r.stdout}${r.stderr}`);
    return { ms: Date.now() - t0, body: (JSON.parse(r.stdout.trim().split('\n')[0]!) as { body: any }).body };
  }

  before(async () => {
    process.env.NODEMESH_DEBUG = '1';
    dir = manifestDir('three-nodes.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true });
  });

  after(async () => {
    delete process.env.NODEMESH_DEBUG;
    const id = c?.clusterId;
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
    if (id) assert.deepEqual(kernelObjects(id).netns, []);
  });

  test('every pair of nodes is meshed and keeps the client IP', async () => {
    const pods = ['ring/s1', 'ring/s2', 'ring/s3'];
    for (const from of pods) {
      for (const to of pods) {
        if (from === to) continue;
        const r = await get(from, to);
        assert.equal(r.body.client.address, c.pod(from).ip, `${from} → ${to}`);
      }
    }
    for (const n of ['n1', 'n2', 'n3']) {
      await waitFor(`outbound and inbound opens on ${n}`, async () => {
        const m = (await c.agentGet(n, '/metrics')).body;
        return metricSum(m, 'tcp_open_total', { direction: 'outbound' }) === 2 && metricSum(m, 'tcp_open_total', { direction: 'inbound' }) === 2;
      });
    }
  });

  test('connections are set up while both agents\' event loops are blocked', async () => {
    const blocks = ['n1', 'n2'].map((n) => c.agentGet(n, '/debug/block-event-loop?ms=3000', 10_000));
    await new Promise((r) => setTimeout(r, 200));
    const r = await get('ring/s1', 'ring/s2');
    assert.equal(r.body.client.address, c.pod('ring/s1').ip);
    const settled = await Promise.all(blocks);
    assert.deepEqual(settled.map((b) => b.status), [200, 200], 'the debug hook really blocked both loops');
    assert.ok(r.ms < 1500, `request took ${r.ms} ms while the loops were blocked for 3000 ms`);
  });
});
