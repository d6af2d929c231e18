// The scale benchmark's synthetic cluster: placement (replicas on distinct nodes, balanced nodes),
// per-node CIDR blocks, valid objects for the controller's own converter, and pod moves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertObject } from '../../../controller/src/model/index.js';
import { DEFAULT_SHAPE, intToIp, ipToInt, nodeName, placement, SyntheticCluster, type ClusterShape } from '../../../bench/scale/generate.js';

const small: ClusterShape = { pods: 200, services: 20, nodes: 10, namespaces: 4, slices: false, spareIps: 4 };

test('IPv4 conversions round-trip and reject garbage', () => {
  assert.equal(ipToInt('10.64.1.2'), (10 << 24) + (64 << 16) + (1 << 8) + 2);
  assert.equal(intToIp(ipToInt('255.255.255.255')), '255.255.255.255');
  assert.equal(intToIp(ipToInt('10.0.0.0')), '10.0.0.0');
  assert.throws(() => ipToInt('10.0.0'), RangeError);
  assert.throws(() => ipToInt('10.0.0.256'), RangeError);
});

test('default shape: 10 000 pods, 1 000 services of 10 replicas each on 10 distinct nodes, 100 pods per node', () => {
  const c = new SyntheticCluster(DEFAULT_SHAPE);
  for (let s = 0; s < DEFAULT_SHAPE.services; s += 97) {
    const pods = c.podsOfService(s);
    assert.equal(pods.length, 10);
    assert.equal(new Set(pods.map((p) => c.pods[p]!.node)).size, 10, `service ${s} spans 10 nodes`);
  }
  for (let k = 0; k < DEFAULT_SHAPE.nodes; k++) assert.equal(c.podsOnNode(k), 100);
  assert.equal(c.prefixLength, 24);
  assert.equal(c.nodeCidr(0), '10.64.0.0/24');
  assert.equal(c.nodeCidr(99), '10.64.99.0/24');
  assert.equal(new Set(c.pods.map((p) => c.podIp(p.index))).size, 10_000, 'every pod IP is unique');
});

test('pod IPs lie in their node\'s block; blocks grow when a node needs more addresses', () => {
  const c = new SyntheticCluster(small);
  for (const p of c.pods) {
    const [base, len] = c.nodeCidr(p.node).split('/') as [string, string];
    const size = 2 ** (32 - Number(len));
    const ip = ipToInt(c.podIp(p.index));
    assert.ok(ip > ipToInt(base) + 1 && ip < ipToInt(base) + size - 1, `${c.podIp(p.index)} in ${c.nodeCidr(p.node)}`);
  }
  const dense = new SyntheticCluster({ ...small, pods: 3000, nodes: 10, spareIps: 10 });
  assert.equal(dense.prefixLength, 23, '300 pods + 10 spare + 3 reserved need a /23');
  assert.throws(() => new SyntheticCluster({ ...small, pods: 0, nodes: 20_000 }), /do not fit/);
  assert.throws(() => new SyntheticCluster({ ...small, services: 0 }), RangeError);
});

test('every generated object passes the controller\'s converter', () => {
  const c = new SyntheticCluster({ ...small, slices: true });
  const kinds = new Map<string, number>();
  for (const o of c.objects()) {
    const r = convertObject(o, 'gen', 'object');
    assert.ok('object' in r, JSON.stringify(r));
    kinds.set(r.object.kind, (kinds.get(r.object.kind) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(kinds), { Namespace: 4, ServiceAccount: 20, Service: 20, EndpointSlice: 20, Pod: 200 });
});

test('pods are in their service\'s namespace, labelled for its selector; some opt out of capture', () => {
  const c = new SyntheticCluster(small);
  const svc = c.service(3) as { metadata: { namespace: string }; spec: { selector: Record<string, string> } };
  for (const p of c.podsOfService(3)) {
    const pod = c.pod(p) as { metadata: { namespace: string; labels: Record<string, string> }; spec: { nodeName: string } };
    assert.equal(pod.metadata.namespace, svc.metadata.namespace);
    assert.equal(pod.metadata.labels.app, svc.spec.selector.app);
    assert.equal(pod.spec.nodeName, nodeName(placement(small, p).node));
  }
  const optedOut = c.pods.filter((p) => (c.pod(p.index) as { metadata: { annotations: Record<string, string> } }).metadata.annotations['nodemesh.io/capture'] === 'false');
  assert.equal(optedOut.length, 4);
  assert.equal((c.namespace(0) as { metadata: { labels: Record<string, string> } }).metadata.labels['nodemesh.io/mesh'], 'enabled');
  assert.equal((c.namespace(1) as { metadata: { labels: Record<string, string> } }).metadata.labels['nodemesh.io/mesh'], undefined);
});

test('movePod takes the next spare address of the pod\'s node and updates its slice', () => {
  const c = new SyntheticCluster({ ...small, slices: true });
  const p = 7;
  const node = c.pods[p]!.node;
  const old = c.podIp(p);
  const changed = c.movePod(p);
  assert.equal(c.podIp(p), c.hostIp(node, c.podsOnNode(node)));
  assert.notEqual(c.podIp(p), old);
  assert.equal(changed.length, 2);
  const slice = changed[1] as { endpoints: { addresses: string[] }[] };
  assert.ok(slice.endpoints.some((e) => e.addresses[0] === c.podIp(p)));
  assert.ok(!slice.endpoints.some((e) => e.addresses[0] === old));
  // a second move takes the next address; the pool is spareIps per node
  c.movePod(p);
  assert.equal(c.podIp(p), c.hostIp(node, c.podsOnNode(node) + 1));
  c.movePod(p);
  c.movePod(p);
  assert.throws(() => c.movePod(p), /no spare address/);
  assert.throws(() => c.movePod(10_000), RangeError);
});
