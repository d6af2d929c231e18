// The mesh resource (trust bundle, trust domain, default inbound policy): in every node's full
// view, a change is one delta to every node, wire round trip, invalid wire data rejected with its
// field path, applyUpdate carrying it, and the model's node → identity index the CA checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshError } from '../../../common/errors.js';
import { MeshCA, P256, createCsr, subtle } from '../../../controller/src/ca/index.js';
import { configServiceDefinition, fromWire, toWire } from '../../../controller/src/grpc/index.js';
import { parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';
import { ConfigModel, applyUpdate, type MeshCfg } from '../../../controller/src/views/index.js';

const YAML = `apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { nodemesh.io/mesh: enabled } }
---
apiVersion: v1
kind: Pod
metadata: { name: a1, namespace: shop }
spec: { nodeName: node-a, serviceAccountName: web, containers: [{ name: c }] }
status: { podIP: 10.200.1.10 }
---
apiVersion: v1
kind: Pod
metadata: { name: b1, namespace: shop }
spec: { nodeName: node-b, serviceAccountName: api, containers: [{ name: c }] }
status: { podIP: 10.200.2.10 }
`;

async function mesh(anchors = 1): Promise<MeshCfg> {
  const ca = await MeshCA.generate({ trustDomain: 'cluster.local' });
  for (let i = 1; i < anchors; i++) await ca.rotate();
  return { trustDomain: 'cluster.local', trustAnchors: ca.anchors, defaultInboundPolicy: 'all-unauthenticated' };
}

function resources() {
  return resourcesFrom(parseManifests('x.yaml', YAML).objects);
}

test('every node gets the mesh resource in its full view; a change is one delta to every node', async () => {
  const m1 = await mesh();
  const model = new ConfigModel('cluster.local', m1);
  model.update(resources());
  for (const node of ['node-a', 'node-b', 'node-without-pods']) {
    const cfg = applyUpdate(undefined, model.fullUpdate(node));
    assert.deepEqual(cfg.mesh, m1, node);
  }
  const m2 = await mesh(2);
  const d = model.setMesh(m2)!;
  assert.deepEqual(d.upserts.map((r) => [r.type, r.key]), [['mesh', 'mesh']]);
  for (const node of ['node-a', 'node-b']) {
    const u = ConfigModel.forNode(d, node)!;
    assert.equal(u.full, false);
    assert.deepEqual(u.upserts.map((r) => r.type), ['mesh']);
  }
  assert.equal(model.setMesh(m2), undefined, 'same settings: no new version');
  const v = model.version;
  model.update(resources());
  assert.equal(model.version, v, 'a cluster snapshot keeps the mesh resource: no churn');
  assert.deepEqual(applyUpdate(undefined, model.fullUpdate('node-a')).mesh, m2);
  assert.throws(() => model.setMesh({ ...m2, trustDomain: 'other.org' }), /--trust-domain/);
});

test('applyUpdate: a mesh upsert sets NodeConfig.mesh, a remove clears it, other deltas keep it', async () => {
  const m = await mesh();
  const a = applyUpdate(undefined, { version: 1, full: true, upserts: [{ type: 'mesh', key: 'mesh', value: m }], removes: [] });
  assert.deepEqual(a.mesh, m);
  const b = applyUpdate(a, { version: 2, full: false, upserts: [], removes: [{ type: 'peer', key: 'x/y' }] });
  assert.deepEqual(b.mesh, m);
  const c = applyUpdate(b, { version: 3, full: false, upserts: [], removes: [{ type: 'mesh', key: 'mesh' }] });
  assert.equal(c.mesh, undefined);
});

/** Through protobuf bytes, as the agent receives it. */
const overTheWire = (w: Record<string, unknown>): unknown => {
  const def = (configServiceDefinition as unknown as Record<string, { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>).Stream!;
  return def.responseDeserialize(def.responseSerialize(w));
};

test('wire round trip of the mesh resource (through protobuf bytes)', async () => {
  const m = await mesh(2);
  const u = fromWire(overTheWire(toWire({ version: 4, full: false, upserts: [{ type: 'mesh', key: 'mesh', value: m }], removes: [{ type: 'mesh', key: 'mesh' }] })));
  assert.deepEqual(u.upserts, [{ type: 'mesh', key: 'mesh', value: m }]);
  assert.deepEqual(u.removes, [{ type: 'mesh', key: 'mesh' }]);
});

test('invalid mesh resources are rejected with their field path', async () => {
  const m = await mesh();
  const ca = await MeshCA.generate({ trustDomain: 'cluster.local' });
  const issuer = (await ca.material()).issuerChainPem[0]!;
  const id = 'spiffe://cluster.local/ns/a/sa/b';
  const leaf = (await ca.sign(await createCsr(id, await subtle.generateKey(P256, true, ['sign', 'verify'])), id)).chainPem[0]!;
  const wire = (over: Record<string, unknown>, key = 'mesh') => ({ version: 1, upserts: [{ key, kind: 'mesh', mesh: { trustDomain: m.trustDomain, trustAnchors: [...m.trustAnchors], defaultInboundPolicy: m.defaultInboundPolicy, ...over } }] });
  const cases: [unknown, RegExp][] = [
    [wire({ trustDomain: '' }), /upserts\[0\]\.mesh\.trustDomain: must be a non-empty string/],
    [wire({ trustDomain: 'Bad Domain' }), /upserts\[0\]\.mesh\.trustDomain: .* is not a trust domain/],
    [wire({ trustAnchors: [] }), /upserts\[0\]\.mesh\.trustAnchors: must hold at least one/],
    [wire({ trustAnchors: [m.trustAnchors[0], 'nope'] }), /upserts\[0\]\.mesh\.trustAnchors\[1\]: must be one PEM/],
    [wire({ trustAnchors: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] }), /trustAnchors\[0\]: does not parse/],
    [wire({ trustAnchors: [leaf] }), /trustAnchors\[0\]: .* is not a CA certificate/],
    [wire({ trustAnchors: [issuer] }), /trustAnchors\[0\]: .* is not self-signed/],
    [wire({ defaultInboundPolicy: 'allow-all' }), /upserts\[0\]\.mesh\.defaultInboundPolicy: unknown policy "allow-all"/],
    [wire({}, 'other'), /upserts\[0\]\.key: the mesh resource's key must be "mesh"/],
    [{ version: 1, upserts: [{ key: 'mesh', kind: 'mesh' }] }, /upserts\[0\]\.mesh: missing/],
  ];
  for (const [w, re] of cases) {
    assert.throws(() => fromWire(w), (e: unknown) => e instanceof MeshError && e.code === 'MESH_ERR_CONFIG' && re.test(e.message), String(re));
  }
});

test('the model knows which identities run on which node', () => {
  const model = new ConfigModel('cluster.local');
  model.update(resources());
  assert.equal(model.nodeHasIdentity('node-a', 'spiffe://cluster.local/ns/shop/sa/web'), true);
  assert.equal(model.nodeHasIdentity('node-b', 'spiffe://cluster.local/ns/shop/sa/web'), false);
  assert.equal(model.nodeHasIdentity('node-b', 'spiffe://cluster.local/ns/shop/sa/api'), true);
  assert.equal(model.nodeHasIdentity('node-c', 'spiffe://cluster.local/ns/shop/sa/api'), false);
});
