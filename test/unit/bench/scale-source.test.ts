// The scale benchmark's in-memory source feeding the real ConfigModel: the views it yields (each
// service's endpoints on distinct nodes, a node's own workloads, meshed and opted-out pods), and a
// pod move reaching every node as a peer + service delta, the owner also getting its workload.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigModel, type ServiceCfg } from '../../../controller/src/views/index.js';
import { decodeUpdate, encodeUpdate } from '../../../bench/scale/codec.js';
import { nodeName, SyntheticCluster, type ClusterShape } from '../../../bench/scale/generate.js';
import { MemorySource } from '../../../bench/scale/memory-source.js';

const shape: ClusterShape = { pods: 300, services: 30, nodes: 10, namespaces: 4, slices: false, spareIps: 4 };

for (const slices of [false, true]) {
  test(`views from the generated cluster (${slices ? 'EndpointSlices' : 'selectors'})`, async () => {
    const c = new SyntheticCluster({ ...shape, slices });
    const src = new MemorySource(c.objects());
    const snap = await src.start();
    assert.deepEqual(snap.problems, []);
    const model = new ConfigModel();
    model.update(snap.resources);
    const view = model.fullUpdate(nodeName(3));
    const services = view.upserts.filter((r) => r.type === 'service').map((r) => r.value as ServiceCfg);
    assert.equal(services.length, 30);
    for (const s of services) {
      const eps = s.ports[0]!.endpoints;
      assert.equal(eps.length, 10);
      assert.equal(new Set(eps.map((e) => e.node)).size, 10, `${s.name}: endpoints on distinct nodes`);
      assert.ok(eps.every((e) => e.port === 8080), 'named target port resolved');
    }
    const workloads = view.upserts.filter((r) => r.type === 'workload');
    assert.equal(workloads.length, c.podsOnNode(3));
    assert.ok(workloads.every((w) => w.type === 'workload' && w.value.node === nodeName(3)));
    assert.equal(view.upserts.filter((r) => r.type === 'peer').length, 300);
    const reasons = new Set(workloads.map((w) => (w.type === 'workload' ? w.value.reason : '')));
    assert.ok(reasons.has('enrolled') && reasons.has('namespace-not-meshed'), [...reasons].join());
    // the wire codec round-trips a full view
    assert.equal(decodeUpdate(encodeUpdate(view)).upserts.length, view.upserts.length);
  });
}

test('a pod move is one small delta: peer and service everywhere, the workload on its node only', async () => {
  const c = new SyntheticCluster(shape);
  const src = new MemorySource(c.objects());
  const model = new ConfigModel();
  model.update((await src.start()).resources);
  let emitted = 0;
  src.on('update', () => emitted++);
  const p = 42;
  const snap = src.prepare(c.movePod(p));
  assert.equal(emitted, 0, 'prepare does not emit');
  src.publish(snap);
  assert.equal(emitted, 1);
  assert.equal(src.snapshot, snap);
  const delta = model.update(snap.resources)!;
  assert.deepEqual(delta.upserts.map((r) => r.type).sort(), ['peer', 'service', 'workload']);
  const owner = nodeName(c.pods[p]!.node);
  const other = nodeName((c.pods[p]!.node + 1) % shape.nodes);
  assert.deepEqual(ConfigModel.forNode(delta, owner)!.upserts.map((r) => r.type).sort(), ['peer', 'service', 'workload']);
  assert.deepEqual(ConfigModel.forNode(delta, other)!.upserts.map((r) => r.type).sort(), ['peer', 'service']);
  const peer = delta.upserts.find((r) => r.type === 'peer')!;
  assert.equal(peer.type === 'peer' && peer.value.ip, c.podIp(p));
});
