// Topology planning of the simulated cluster: node and pod addresses, names, routes, veth-name
// limits, stable ordering and stable re-planning. Pure; no root.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignmentsOf, planCluster } from '../../../sim/index.js';
import { pod, resources } from './fixtures.js';

const base = pod('shop', 'server-b', 'node-b') + pod('shop', 'client', 'node-a') + pod('legacy', 'server', 'node-b') + pod('shop', 'server-a', 'node-a');

test('nodes are the sorted distinct nodeNames with uplink, pod CIDR, gateway and pin dir', () => {
  const p = planCluster(resources(base), 'abc123');
  assert.deepEqual(p.nodes.map((n) => [n.name, n.index, n.netns, n.uplinkCidr, n.podCidr, n.gateway, n.pinDir]), [
    ['node-a', 1, 'nm-abc123-node-a', '10.199.0.1/24', '10.200.1.0/24', '10.200.1.1', '/sys/fs/bpf/nodemesh/abc123-node-a'],
    ['node-b', 2, 'nm-abc123-node-b', '10.199.0.2/24', '10.200.2.0/24', '10.200.2.1', '/sys/fs/bpf/nodemesh/abc123-node-b'],
  ]);
  assert.equal(p.fabricNetns, 'nm-abc123-fab');
  assert.equal(p.bridge, 'br0');
});

test('each node routes the other nodes\' pod CIDRs via their uplink IPs', () => {
  const p = planCluster(resources(base + pod('x', 'y', 'node-c')), 'abc123');
  assert.deepEqual(p.nodes[0]!.routes, [{ dst: '10.200.2.0/24', via: '10.199.0.2' }, { dst: '10.200.3.0/24', via: '10.199.0.3' }]);
  assert.deepEqual(p.nodes[2]!.routes, [{ dst: '10.200.1.0/24', via: '10.199.0.1' }, { dst: '10.200.2.0/24', via: '10.199.0.2' }]);
});

test('pods get .10, .11, … per node in namespace/name order, with netns and host veth from their slot', () => {
  const p = planCluster(resources(base), 'abc123');
  assert.deepEqual(p.pods.map((x) => [x.key, x.node, x.ip, x.netns, x.hostVeth]), [
    ['legacy/server', 'node-b', '10.200.2.10', 'nm-abc123-p-0', 'nmp0'],
    ['shop/client', 'node-a', '10.200.1.10', 'nm-abc123-p-1', 'nmp1'],
    ['shop/server-a', 'node-a', '10.200.1.11', 'nm-abc123-p-2', 'nmp2'],
    ['shop/server-b', 'node-b', '10.200.2.11', 'nm-abc123-p-3', 'nmp3'],
  ]);
});

test('the plan does not depend on the order of the manifests', () => {
  const a = planCluster(resources(base), 'abc123');
  const b = planCluster(resources(pod('shop', 'server-a', 'node-a') + pod('legacy', 'server', 'node-b') + pod('shop', 'client', 'node-a') + pod('shop', 'server-b', 'node-b')), 'abc123');
  assert.deepEqual(a, b);
});

test('interface names fit IFNAMSIZ and are unique within each node, also with many pods', () => {
  let yaml = '';
  for (let i = 0; i < 600; i++) yaml += pod(`ns${i % 7}`, `p${i}`, `node-${i % 3}`);
  const p = planCluster(resources(yaml), 'abc123');
  for (const x of p.pods) assert.ok(x.hostVeth.length <= 15, x.hostVeth);
  for (const n of p.nodes) {
    assert.ok(n.fabricVeth.length <= 15);
    const names = p.pods.filter((x) => x.node === n.name).map((x) => x.hostVeth);
    assert.equal(new Set(names).size, names.length);
  }
  assert.equal(new Set(p.pods.map((x) => x.ip)).size, 600);
  assert.equal(new Set(p.pods.map((x) => x.netns)).size, 600);
});

test('pod env, ports and command are carried into the plan', () => {
  const p = planCluster(resources(pod('a', 'b', 'n', ', env: [{ name: X, value: "1" }], ports: [{ containerPort: 80 }]')), 'abc123');
  assert.deepEqual(p.pods[0]!.env, { X: '1' });
  assert.deepEqual(p.pods[0]!.ports, [{ containerPort: 80, protocol: 'TCP' }]);
  assert.deepEqual(p.pods[0]!.command, ['sleep', 'infinity']);
});

test('re-planning keeps assigned IPs and slots; new pods take free addresses; removed ones are not reused', () => {
  const first = planCluster(resources(base), 'abc123');
  const a1 = assignmentsOf(first);
  const withNew = planCluster(resources(base + pod('aaa', 'first', 'node-a')), 'abc123', a1);
  const old = new Map(first.pods.map((x) => [x.key, x]));
  for (const x of withNew.pods) {
    const o = old.get(x.key);
    if (o) assert.deepEqual([x.ip, x.slot], [o.ip, o.slot], `${x.key} kept its address`);
  }
  const added = withNew.pods.find((x) => x.key === 'aaa/first')!;
  assert.deepEqual([added.ip, added.slot, added.netns], ['10.200.1.12', 4, 'nm-abc123-p-4']);
  // remove shop/client (10.200.1.10): a pod added later does not get its address
  const a2 = assignmentsOf(withNew, a1);
  const without = resources(pod('shop', 'server-b', 'node-b') + pod('legacy', 'server', 'node-b') + pod('shop', 'server-a', 'node-a') + pod('aaa', 'first', 'node-a') + pod('zzz', 'late', 'node-a'));
  const p3 = planCluster(without, 'abc123', a2);
  const late = p3.pods.find((x) => x.key === 'zzz/late')!;
  assert.equal(late.ip, '10.200.1.13');
  assert.equal(late.slot, 5);
});

test('a new node sorts after the existing ones when re-planning, so node indexes never shift', () => {
  const first = planCluster(resources(pod('a', 'x', 'node-m')), 'abc123');
  const p = planCluster(resources(pod('a', 'x', 'node-m') + pod('a', 'y', 'node-a')), 'abc123', assignmentsOf(first));
  assert.deepEqual(p.nodes.map((n) => [n.name, n.index]), [['node-m', 1], ['node-a', 2]]);
  assert.equal(p.pods.find((x) => x.key === 'a/x')!.ip, '10.200.1.10');
});

test('invalid cluster ids and clashing node names are rejected with the fix', () => {
  assert.throws(() => planCluster(resources(base), 'NOT-HEX'), { code: 'MESH_ERR_INVALID_ARG' });
  assert.throws(() => planCluster(resources(pod('a', 'b', 'fab')), 'abc123'), (e: Error & { code?: string }) => e.code === 'MESH_ERR_CLUSTER' && /rename spec.nodeName/.test(e.message));
  assert.throws(() => planCluster(resources(pod('a', 'b', 'p-1')), 'abc123'), { code: 'MESH_ERR_CLUSTER' });
});

test('more pods than a node /24 holds is a clear error', () => {
  let yaml = '';
  for (let i = 0; i < 246; i++) yaml += pod('a', `p${i}`, 'solo');
  assert.throws(() => planCluster(resources(yaml), 'abc123'), (e: Error & { code?: string }) => e.code === 'MESH_ERR_CLUSTER' && /more than 245 pods/.test(e.message));
});
