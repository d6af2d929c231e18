// The config model: derivation (enrollment, endpoints from selectors or EndpointSlices, named
// target ports), per-node selection, and deltas that carry only what changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';
import { ConfigModel, applyUpdate } from '../../../controller/src/views/index.js';

const res = (yaml: string) => {
  const p = parseManifests('t.yaml', yaml);
  assert.deepEqual(p.problems, []);
  return resourcesFrom(p.objects);
};
const NS = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: shop, labels: { nodemesh.io/mesh: enabled } }\n';
const pod = (name: string, node: string, ip: string, extra = ''): string => `---\napiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: shop, labels: { app: web }${extra} }\nspec: { nodeName: ${node}, containers: [{ name: c, ports: [{ name: http, containerPort: 8080 }] }] }\nstatus: { podIP: ${ip} }\n`;
const SVC = '---\napiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: shop }\nspec: { clusterIP: 10.96.0.10, selector: { app: web }, ports: [{ name: h, port: 80, targetPort: http }] }\n';

test('endpoints from the selector, named target port resolved', () => {
  const m = new ConfigModel();
  m.update(res(NS + pod('a', 'n1', '10.0.1.1') + pod('b', 'n2', '10.0.2.1') + SVC));
  const cfg = applyUpdate(undefined, m.fullUpdate('n1'));
  assert.deepEqual(cfg.services.get('shop/web')!.ports[0]!.endpoints.map((e) => `${e.ip}:${e.port}`), ['10.0.1.1:8080', '10.0.2.1:8080']);
});

test('EndpointSlices win over the selector; not-ready endpoints are left out', () => {
  const slice = '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: web-x, namespace: shop, labels: { kubernetes.io/service-name: web } }\naddressType: IPv4\nports: [{ name: h, port: 9090 }]\nendpoints: [{ addresses: [10.0.9.9], conditions: { ready: true }, nodeName: n3 }, { addresses: [10.0.9.8], conditions: { ready: false } }]\n';
  const m = new ConfigModel();
  m.update(res(NS + pod('a', 'n1', '10.0.1.1') + SVC + slice));
  const cfg = applyUpdate(undefined, m.fullUpdate('n1'));
  assert.deepEqual(cfg.services.get('shop/web')!.ports[0]!.endpoints.map((e) => `${e.ip}:${e.port}@${e.node}`), ['10.0.9.9:9090@n3']);
});

test('each node gets its own workloads only; peers and services go to all', () => {
  const m = new ConfigModel();
  m.update(res(NS + pod('a', 'n1', '10.0.1.1') + pod('b', 'n2', '10.0.2.1') + SVC));
  const n1 = m.fullUpdate('n1');
  assert.deepEqual(n1.upserts.filter((r) => r.type === 'workload').map((r) => r.key), ['shop/a']);
  assert.equal(n1.upserts.filter((r) => r.type === 'peer').length, 2);
  assert.equal(n1.upserts.filter((r) => r.type === 'service').length, 1);
});

test('one pod change is one small delta; unchanged snapshots produce none', () => {
  const m = new ConfigModel();
  const base = NS + pod('a', 'n1', '10.0.1.1') + pod('b', 'n2', '10.0.2.1') + SVC;
  m.update(res(base));
  assert.equal(m.update(res(base)), undefined, 'same content, no delta');
  const d = m.update(res(NS + pod('a', 'n1', '10.0.1.1', ', annotations: { nodemesh.io/capture: "false" }') + pod('b', 'n2', '10.0.2.1') + SVC))!;
  assert.deepEqual(d.upserts.map((r) => `${r.type}:${r.key}`).sort(), ['peer:shop/a', 'workload:shop/a']);
  assert.equal(ConfigModel.forNode(d, 'n2')!.upserts.length, 1, 'n2 gets the peer only');
  assert.equal(ConfigModel.forNode(d, 'n1')!.upserts.length, 2);
});

test('a pod moving nodes is removed from the old node and added to the new one', () => {
  const m = new ConfigModel();
  m.update(res(NS + pod('a', 'n1', '10.0.1.1')));
  const d = m.update(res(NS + pod('a', 'n2', '10.0.1.1')))!;
  assert.deepEqual(ConfigModel.forNode(d, 'n1')!.removes, [{ type: 'workload', key: 'shop/a' }]);
  assert.ok(ConfigModel.forNode(d, 'n2')!.upserts.some((r) => r.type === 'workload' && r.key === 'shop/a'));
});

test('deltas applied in order equal the full view', () => {
  const m = new ConfigModel();
  const steps = [NS + pod('a', 'n1', '10.0.1.1'), NS + pod('a', 'n1', '10.0.1.1') + pod('c', 'n1', '10.0.1.3') + SVC, NS + pod('c', 'n1', '10.0.1.4') + SVC];
  let cfg = applyUpdate(undefined, (m.update(res(steps[0]!)), m.fullUpdate('n1')));
  for (const s of steps.slice(1)) {
    const d = m.update(res(s));
    const u = d && ConfigModel.forNode(d, 'n1');
    if (u) cfg = applyUpdate(cfg, u);
  }
  const full = applyUpdate(undefined, m.fullUpdate('n1'));
  assert.deepEqual([...cfg.workloads], [...full.workloads]);
  assert.deepEqual([...cfg.peers].sort(), [...full.peers].sort());
  assert.deepEqual([...cfg.services], [...full.services]);
});
