// The controller in the simulated cluster, on a real kernel: a label change reaches every node
// within 1 s, Service traffic is balanced over endpoints on two nodes, the controller killed and
// restarted under continuous traffic fails no connection, and an agent restarted while the
// controller is down captures on its cached config.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SimCluster } from '../../sim/index.js';
import { TCP_TOOL, manifestDir, metricSum, rootGate, sleep, waitFor } from './helpers.js';

const skip = rootGate();

describe('controller end to end', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let dir: string;
  const ip = (key: string): string => c.pod(key).ip;
  const dump = async (node: string): Promise<any> => JSON.parse((await c.agentGet(node, '/config_dump')).body);
  const metrics = async (node: string): Promise<string> => (await c.agentGet(node, '/metrics')).body;
  async function tool(from: string, ...args: string[]): Promise<any> {
    const r = await c.exec(from, [process.execPath, TCP_TOOL, ...args], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `tcp-tool ${args.join(' ')} from ${from}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  }

  before(async () => {
    dir = manifestDir('controller.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true });
  });

  after(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  test('agents take their config from the controller', async () => {
    const d = await dump('node-a');
    assert.equal(d.config.mode, 'controller');
    assert.equal(d.config.connected, true);
    const m = (await c.controllerGet('/metrics')).body;
    assert.equal(metricSum(m, 'nodemesh_controller_connected_agents'), 2);
  });

  test('a namespace label reaches every node within 1 s', async () => {
    const meshed = async (node: string, key: string): Promise<boolean> => (await dump(node)).workloads.some((w: any) => w.key === key && w.meshed);
    writeFileSync(path.join(dir, 'flip.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: flip, labels: { nodemesh.io/mesh: enabled } }\n');
    const t0 = Date.now();
    await waitFor('flip meshed on both nodes', async () => (await meshed('node-a', 'flip/f-a')) && (await meshed('node-b', 'flip/f-b')), 3000, 20);
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `applied on all nodes after ${ms} ms`);
  });

  test('Service traffic is balanced over endpoints on two nodes', async () => {
    const vip = (await dump('node-a')).services.find((s: any) => s.key === 'mesh/echo')?.vip as string;
    assert.match(vip, /^10\.96\./);
    const r = await tool('mesh/client', 'services', vip, '80', '40');
    const pods = r.pods as Record<string, number>;
    assert.deepEqual(Object.keys(pods).sort(), ['echo-a', 'echo-b'], JSON.stringify(pods));
    assert.ok(pods['echo-a']! >= 8 && pods['echo-b']! >= 8, `spread ${JSON.stringify(pods)}`);
    await waitFor('service label on the metrics', async () => metricSum(await metrics('node-a'), 'tcp_open_total', { dst_service: 'mesh/echo' }) >= 40);
  });

  test('controller killed and restarted under continuous traffic: 0 failed connections', async () => {
    const loop = tool('mesh/client', 'loop', ip('mesh/echo-b'), '9000', '6000');
    await sleep(1000);
    await c.stopController('SIGKILL');
    await sleep(1500);
    await c.startController();
    const r = await loop;
    assert.equal(r.failed, 0, JSON.stringify(r.errors));
    assert.ok(r.succeeded > 20, `${r.succeeded} connections`);
    await waitFor('agents reconnected', async () => metricSum((await c.controllerGet('/metrics')).body, 'nodemesh_controller_connected_agents') === 2, 15_000);
  });

  test('an agent restarted while the controller is down captures on its cached config', async () => {
    await c.stopController('SIGTERM');
    await c.stopAgent('node-a', 'SIGTERM');
    await c.startAgent('node-a');
    const d = await dump('node-a');
    assert.equal(d.config.connected, false);
    assert.ok(d.workloads.some((w: any) => w.key === 'mesh/client' && w.meshed), 'enrolled from the cache');
    const before = metricSum(await metrics('node-a'), 'tcp_open_total', { src_workload: 'client' });
    // same-node meshed traffic flows on the cached config (identity known, no certificate needed)
    const r = await tool('mesh/client', 'loop', ip('mesh/echo-a'), '9000', '300');
    assert.equal(r.failed, 0);
    await waitFor('captured', async () => metricSum(await metrics('node-a'), 'tcp_open_total', { src_workload: 'client' }) > before);
    // cross-node fails closed: keys live only in the agent's memory, so a restarted agent has no
    // certificate until the CA is back, and the connection never leaves the node in plaintext
    const x = await tool('mesh/client', 'loop', ip('mesh/echo-b'), '9000', '300');
    assert.equal(x.succeeded, 0, JSON.stringify(x));
    await waitFor('no-certificate counted', async () => metricSum(await metrics('node-a'), 'tcp_close_total', { reason: 'MESH_ERR_NO_CERTIFICATE' }) >= 1);
    await c.startController();
    await waitFor('cross-node again once certified', async () => { const y = await tool('mesh/client', 'loop', ip('mesh/echo-b'), '9000', '300'); return y.succeeded > 0 && y.failed === 0; }, 20_000, 250);
    await waitFor('resynced', async () => (await dump('node-a')).config.connected === true, 15_000);
  });
});
