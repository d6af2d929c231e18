// Table-driven tests of decide() and compileTable(): every row is a captured connection and the
// decision the node proxy must take for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, compileTable, type Conn } from '../../../agent/src/decide/index.js';
import { IndexAllocator, buildNodeView } from '../../../agent/src/state/index.js';
import { parseManifests, type ClusterResources, type ParsedObject } from '../../../agent/src/manifests/index.js';

const YAML = `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { nodemesh.io/mesh: enabled } }
---
apiVersion: v1
kind: Namespace
metadata: { name: legacy }
---
kind: Pod
apiVersion: v1
metadata: { name: client, namespace: shop }
spec: { nodeName: node-a, containers: [{ name: c, image: x }] }
status: { podIP: 10.200.1.10 }
---
kind: Pod
apiVersion: v1
metadata: { name: server, namespace: shop }
spec: { nodeName: node-a, containers: [{ name: c, image: x }] }
status: { podIP: 10.200.1.11 }
---
kind: Pod
apiVersion: v1
metadata: { name: optout, namespace: shop, annotations: { nodemesh.io/capture: "false" } }
spec: { nodeName: node-a, containers: [{ name: c, image: x }] }
status: { podIP: 10.200.1.12 }
---
kind: Pod
apiVersion: v1
metadata: { name: old, namespace: legacy }
spec: { nodeName: node-a, containers: [{ name: c, image: x }] }
status: { podIP: 10.200.1.13 }
---
kind: Pod
apiVersion: v1
metadata: { name: remote, namespace: shop }
spec: { nodeName: node-b, containers: [{ name: c, image: x }] }
status: { podIP: 10.200.2.10 }
`;

export function resourcesFrom(objects: readonly ParsedObject[]): ClusterResources {
  const r = { namespaces: new Map(), serviceAccounts: new Map(), pods: new Map(), services: new Map() };
  for (const o of objects) {
    if (o.kind === 'Namespace') r.namespaces.set(o.value.name, o.value);
    else if (o.kind === 'Pod') r.pods.set(`${o.value.namespace}/${o.value.name}`, o.value);
    else if (o.kind === 'Service') r.services.set(`${o.value.namespace}/${o.value.name}`, o.value);
    else r.serviceAccounts.set(`${o.value.namespace}/${o.value.name}`, o.value);
  }
  return r;
}

const parsed = parseManifests('t.yaml', YAML);
assert.deepEqual(parsed.problems, []);
const view = buildNodeView(resourcesFrom(parsed.objects), 'node-a', ['10.199.0.1', '10.200.1.1'], new IndexAllocator());

const c = (direction: Conn['direction'], src: string, dst: string, dport = 80): Conn => ({ direction, src: { ip: src, port: 40000 }, dst: { ip: dst, port: dport } });

const ROWS: Array<[string, Conn, string]> = [
  ['enrolled pod to a pod on the same node', c('outbound', '10.200.1.10', '10.200.1.11'), 'route:shop/client'],
  ['enrolled pod to a remote pod', c('outbound', '10.200.1.10', '10.200.2.10'), 'route:shop/client'],
  ['enrolled pod to an unmeshed pod', c('outbound', '10.200.1.10', '10.200.1.13'), 'route:shop/client'],
  ['remote pod to an enrolled pod (inbound)', c('inbound', '10.200.2.10', '10.200.1.11'), 'route:shop/server'],
  ['unmeshed pod to an enrolled pod (inbound)', c('inbound', '10.200.1.13', '10.200.1.11'), 'route:shop/server'],
  ['opted-out pod outbound', c('outbound', '10.200.1.12', '10.200.1.11'), 'MESH_ERR_NOT_ENROLLED'],
  ['inbound to an opted-out pod', c('inbound', '10.200.2.10', '10.200.1.12'), 'MESH_ERR_NOT_ENROLLED'],
  ['unlabelled namespace outbound', c('outbound', '10.200.1.13', '10.200.1.11'), 'MESH_ERR_NOT_ENROLLED'],
  ['a pod of another node is not ours to proxy outbound', c('outbound', '10.200.2.10', '10.200.1.11'), 'MESH_ERR_NOT_ENROLLED'],
  ['straight to the proxy port on the gateway', c('outbound', '10.200.1.10', '10.200.1.1', 15001), 'MESH_ERR_DIRECT_CONNECT'],
  ['straight to the node uplink address', c('inbound', '10.200.2.10', '10.199.0.1', 15006), 'MESH_ERR_DIRECT_CONNECT'],
  ['loopback destination', c('outbound', '10.200.1.10', '127.0.0.1', 15001), 'MESH_ERR_DIRECT_CONNECT'],
  ['unknown source', c('outbound', '10.9.9.9', '10.200.1.11'), 'MESH_ERR_NOT_ENROLLED'],
];

for (const [name, conn, want] of ROWS) {
  test(`decide: ${name}`, () => {
    const d = decide(view, conn);
    const got = d.kind === 'route' ? `route:${d.workload.key}` : d.code;
    assert.equal(got, want);
    if (d.kind === 'route') {
      assert.deepEqual(d.upstream, conn.dst, 'upstream is the original destination');
      assert.equal(d.bindIp, conn.src.ip, 'the upstream connection keeps the client IP');
    }
  });
}

test('compileTable lists exactly the enrolled pods of this node, denies by default', () => {
  const t = compileTable(view, 7);
  assert.equal(t.version, 7);
  assert.deepEqual(t.workloads.map((w) => w.ip).sort(), ['10.200.1.10', '10.200.1.11']);
  assert.equal(t.defaults.outbound.action, 'deny');
  assert.equal(t.defaults.inbound.reason, 'MESH_ERR_NOT_ENROLLED');
  assert.deepEqual(t.localAddrs, ['10.199.0.1', '10.200.1.1']);
});

test('view explains why each pod is or is not meshed', () => {
  const reasons = Object.fromEntries(view.local.map((w) => [w.key, w.reason]));
  assert.deepEqual(reasons, {
    'legacy/old': 'namespace-not-meshed',
    'shop/client': 'enrolled',
    'shop/optout': 'opted-out',
    'shop/server': 'enrolled',
  });
  assert.equal(view.local.find((w) => w.key === 'shop/client')?.identity, 'spiffe://cluster.local/ns/shop/sa/default');
});

test('workload indexes are stable across rebuilds', () => {
  const idx = new IndexAllocator();
  const r = resourcesFrom(parsed.objects);
  const a = buildNodeView(r, 'node-a', [], idx);
  const b = buildNodeView(r, 'node-a', [], idx);
  assert.deepEqual(a.local.map((w) => w.index), b.local.map((w) => w.index));
  assert.equal(new Set(a.local.map((w) => w.index)).size, a.local.length);
});
