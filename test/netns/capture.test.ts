// End-to-end capture on a real kernel: a 2-node simulated cluster with one agent per node. Real
// pods, real BPF, real sockets: meshed and unmeshed traffic, the client IP, label toggling, opt-out,
// half-close, a 100 MB checksum, 1,000 concurrent connections, a stalled reader, direct connects,
// capture failures, invalid manifests, agent restarts and a full teardown.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SimCluster } from '../../sim/index.js';
import { CLI, TCP_TOOL, kernelObjects, manifestDir, metricSum, rootGate, rssKiB, sleep, waitFor } from './helpers.js';

const skip = rootGate();

describe('capture end to end', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let dir: string;

  const ip = (key: string): string => c.pod(key).ip;
  const metrics = async (node: string): Promise<string> => (await c.agentGet(node, '/metrics')).body;
  const dump = async (node: string): Promise<Record<string, any>> => JSON.parse((await c.agentGet(node, '/config_dump')).body) as Record<string, any>;

  async function get(from: string, url: string): Promise<{ status: number; body: any }> {
    const r = await c.exec(from, [process.execPath, CLI, 'workload', 'get', url, '--timeout-ms', '5000'], { timeoutMs: 15000 });
    assert.equal(r.code, 0, `GET ${url} from ${from} failed: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n')[0]!) as { status: number; body: any };
  }

  async function tool(from: string, ...args: string[]): Promise<any> {
    const r = await c.exec(from, [process.execPath, TCP_TOOL, ...args], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `tcp-tool ${args.join(' ')} from ${from}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  }

  const opened = async (node: string, labels: Record<string, string>): Promise<number> => metricSum(await metrics(node), 'tcp_open_total', labels);

  let baseline: { progs: number; links: number };

  before(async () => {
    const k = kernelObjects('none');
    baseline = { progs: k.progs, links: k.links };
    dir = manifestDir('capture.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true });
  });

  after(async () => {
    const id = c?.clusterId;
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
    if (id) {
      const k = kernelObjects(id);
      assert.deepEqual(k.netns, [], 'no network namespace of the cluster is left');
      assert.deepEqual(k.pins, [], 'no pin of the cluster is left');
      // ≤: another cluster (a benchmark run beside the tests) may have gone away meanwhile
      assert.ok(k.progs <= baseline.progs && k.links <= baseline.links, `no tc_steer program or TCX link of the cluster is left: ${JSON.stringify(k)} vs ${JSON.stringify(baseline)}`);
    }
  });

  test('outbound same node: captured once, the server sees the client pod IP', async () => {
    const before = await opened('node-a', { direction: 'outbound', src_workload: 'client', dst_workload: 'server-a' });
    const r = await get('mesh/client', `http://${ip('mesh/server-a')}:8080/same-node`);
    assert.equal(r.status, 200);
    assert.equal(r.body.client.address, ip('mesh/client'));
    assert.equal(r.body.pod, 'server-a');
    await waitFor('tcp_open_total on node-a', async () => (await opened('node-a', { direction: 'outbound', src_workload: 'client', dst_workload: 'server-a' })) === before + 1);
  });

  test('cross node: outbound on node-a, inbound on node-b, client IP preserved across both hops', async () => {
    const o = await opened('node-a', { direction: 'outbound', dst_workload: 'server-b' });
    const i = await opened('node-b', { direction: 'inbound', src_workload: 'client', dst_workload: 'server-b' });
    const r = await get('mesh/client', `http://${ip('mesh/server-b')}:8080/cross-node`);
    assert.equal(r.body.client.address, ip('mesh/client'));
    await waitFor('outbound open on node-a', async () => (await opened('node-a', { direction: 'outbound', dst_workload: 'server-b' })) === o + 1);
    await waitFor('inbound open on node-b', async () => (await opened('node-b', { direction: 'inbound', src_workload: 'client', dst_workload: 'server-b' })) === i + 1);
    await waitFor('bytes counted when the connection closed', async () => metricSum(await metrics('node-b'), 'tcp_read_bytes_total', { direction: 'inbound', dst_workload: 'server-b' }) > 0);
  });

  test('inbound from an unmeshed pod is captured at the destination node only', async () => {
    const i = await opened('node-b', { direction: 'inbound', src_namespace: 'plain', dst_workload: 'server-b' });
    const oa = await opened('node-a', { src_namespace: 'plain' });
    const r = await get('plain/pclient', `http://${ip('mesh/server-b')}:8080/`);
    assert.equal(r.body.client.address, ip('plain/pclient'));
    await waitFor('inbound open on node-b', async () => (await opened('node-b', { direction: 'inbound', src_namespace: 'plain', dst_workload: 'server-b' })) === i + 1);
    assert.equal(await opened('node-a', { src_namespace: 'plain' }), oa, 'node-a did not proxy the unmeshed client');
  });

  test('unmeshed to unmeshed traffic is untouched', async () => {
    const a = await opened('node-a', {});
    const b = await opened('node-b', {});
    const passBefore = metricSum(await metrics('node-a'), 'nodemesh_bpf_packets_total', { reason: 'pass_not_enrolled' });
    const r = await get('plain/pclient', `http://${ip('plain/pserver')}:8080/`);
    assert.equal(r.body.client.address, ip('plain/pclient'));
    await sleep(300);
    assert.equal(await opened('node-a', {}), a);
    assert.equal(await opened('node-b', {}), b);
    assert.ok(metricSum(await metrics('node-a'), 'nodemesh_bpf_packets_total', { reason: 'pass_not_enrolled' }) > passBefore, 'the program saw and passed the SYN');
  });

  test('an opted-out pod is not captured and /config_dump says why', async () => {
    const a = await opened('node-a', { src_workload: 'optout' });
    await get('mesh/optout', `http://${ip('plain/pserver')}:8080/`);
    await sleep(300);
    assert.equal(await opened('node-a', { src_workload: 'optout' }), a);
    const w = (await dump('node-a')).workloads.find((x: any) => x.key === 'mesh/optout');
    assert.deepEqual([w.meshed, w.reason], [false, 'opted-out']);
  });

  test('labelling a namespace at runtime starts capture within 1 s; removing it stops capture', async () => {
    const count = (): Promise<number> => opened('node-a', { src_namespace: 'toggle' });
    const base = await count();
    await get('toggle/tclient', `http://${ip('plain/pserver')}:8080/`);
    await sleep(200);
    assert.equal(await count(), base, 'not captured before the label');
    const file = path.join(dir, 'toggle.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: Namespace\nmetadata: { name: toggle, labels: { nodemesh.io/mesh: enabled } }\n');
    const t0 = Date.now();
    await waitFor('toggle/tclient meshed', async () => (await dump('node-a')).workloads.some((w: any) => w.key === 'toggle/tclient' && w.meshed), 3000, 20);
    const enrolledMs = Date.now() - t0;
    await get('toggle/tclient', `http://${ip('plain/pserver')}:8080/`);
    await waitFor('captured after the label', async () => (await count()) === base + 1);
    assert.ok(enrolledMs < 1000, `enrolled after ${enrolledMs} ms`);
    writeFileSync(file, 'apiVersion: v1\nkind: Namespace\nmetadata: { name: toggle, labels: { nodemesh.io/mesh: disabled } }\n');
    await waitFor('toggle/tclient released', async () => (await dump('node-a')).workloads.some((w: any) => w.key === 'toggle/tclient' && !w.meshed), 3000, 20);
    await get('toggle/tclient', `http://${ip('plain/pserver')}:8080/`);
    await sleep(300);
    assert.equal(await count(), base + 1, 'not captured after the label is disabled');
  });

  test('half-close: the client ends its side and still receives the whole echo', async () => {
    const r = await tool('mesh/client', 'halfclose', ip('mesh/server-b'), '9000');
    assert.equal(r.received, 'hello half-close');
  });

  test('100 MB cross-node transfer arrives intact (sha256 both ways)', async () => {
    const r = await tool('mesh/client', 'bulk', ip('mesh/server-b'), '9000', String(100 * 1024 * 1024));
    assert.equal(r.received, r.sent);
    assert.equal(r.receivedSha, r.sentSha);
  });

  test('1,000 concurrent connections are all relayed', async () => {
    const r = await tool('mesh/client', 'concurrent', ip('mesh/server-a'), '9000', '1000');
    assert.deepEqual([r.opened, r.echoed], [1000, 1000]);
    await waitFor('connections closed', async () => metricSum(await metrics('node-a'), 'tcp_open_connections', { dst_workload: 'server-a' }) === 0, 10_000);
  });

  test('a receiver that stops reading: bounded proxy memory, other connections unaffected', async () => {
    const pids = { a: c.agentPid('node-a'), b: c.agentPid('node-b') };
    const rss0 = { a: rssKiB(pids.a), b: rssKiB(pids.b) };
    const push = tool('mesh/client', 'push', ip('mesh/sink'), '9100', '3000');
    await sleep(1500);
    const r = await get('mesh/client', `http://${ip('mesh/server-b')}:8080/while-stalled`);
    assert.equal(r.status, 200);
    const res = await push;
    const grow = { a: rssKiB(pids.a) - rss0.a, b: rssKiB(pids.b) - rss0.b };
    assert.ok(res.written > 0);
    assert.ok(grow.a < 32 * 1024 && grow.b < 32 * 1024, `agent RSS grew by ${grow.a} / ${grow.b} KiB`);
  });

  test('a client connecting straight to 15001 is refused cleanly, no self-connect loop', async () => {
    const gw = c.node('node-a').gateway;
    const r = await c.exec('mesh/client', [process.execPath, CLI, 'workload', 'get', `http://${gw}:15001/`, '--timeout-ms', '2000'], { timeoutMs: 10_000 });
    assert.notEqual(r.code, 0, 'the request must fail');
    await waitFor('close reason recorded', async () => metricSum(await metrics('node-a'), 'tcp_close_total', { reason: 'MESH_ERR_DIRECT_CONNECT' }) >= 1);
    const st = JSON.parse((await c.agentGet('node-a', '/config_dump')).body).proxy;
    assert.ok(st.active < 5, `active connections ${st.active}`);
  });

  test('an invalid manifest is rejected with its field path; everything else keeps working', async () => {
    writeFileSync(path.join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: { name: broken, namespace: mesh }\nspec: { containers: [{ name: c }] }\n');
    await waitFor('rejection visible at the controller', async () => JSON.stringify(JSON.parse((await c.controllerGet('/config_dump')).body).rejected).includes('spec.nodeName'), 3000);
    assert.ok(metricSum((await c.controllerGet('/metrics')).body, 'nodemesh_controller_objects_rejected') >= 1, 'counted');
    const r = await get('mesh/client', `http://${ip('mesh/server-a')}:8080/`);
    assert.equal(r.body.client.address, ip('mesh/client'));
    rmSync(path.join(dir, 'bad.yaml'));
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    test(`agent restart after ${signal}: re-attaches without duplicates, a SYN sent meanwhile succeeds`, async () => {
      const k0 = kernelObjects(c.clusterId);
      await c.stopAgent('node-a', signal);
      const during = get('mesh/client', `http://${ip('mesh/server-a')}:8080/during-restart`);
      await sleep(300);
      await c.startAgent('node-a');
      const r = await during;
      assert.equal(r.body.client.address, ip('mesh/client'), 'the connection made during the restart was meshed');
      const k1 = kernelObjects(c.clusterId);
      assert.ok(k0.links > baseline.links, 'the cluster has TCX links');
      assert.equal(k1.links, k0.links, 'same number of TCX links');
      assert.equal(k1.progs, k0.progs, 'no leaked programs');
      const before = await opened('node-a', { src_workload: 'client', dst_workload: 'server-a' });
      await get('mesh/client', `http://${ip('mesh/server-a')}:8080/after-restart`);
      await waitFor('captured after restart', async () => (await opened('node-a', { src_workload: 'client', dst_workload: 'server-a' })) === before + 1);
    });
  }

  test('a pod whose veth vanished is reported and counted; the others stay captured', async () => {
    const iface = (await dump('node-a')).capture.pods.find((p: any) => p.key === 'mesh/server-a').interface as string;
    await c.execNode('node-a', ['ip', 'link', 'del', iface]);
    await waitFor('failure reported', async () => {
      const p = (await dump('node-a')).capture.pods.find((x: any) => x.key === 'mesh/server-a');
      return p?.state === 'failed' && /no route|not found/.test(p.error);
    }, 5000);
    assert.equal(metricSum(await metrics('node-a'), 'nodemesh_pod_capture_failed', { pod: 'server-a' }), 1);
    assert.equal((await c.agentGet('node-a', '/ready')).status, 503);
    const r = await get('mesh/client', `http://${ip('mesh/server-b')}:8080/`);
    assert.equal(r.body.client.address, ip('mesh/client'));
  });
});
