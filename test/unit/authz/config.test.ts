// What authorization needs from the config pipeline: the namespace annotation to WorkloadCfg, the
// Service selector and numeric target ports, all through protobuf bytes; the AuthorizationPolicy
// CRD's new fields (AUDIT, no target, selector, ipBlocks); an invalid policy rejected with its
// field path while its last valid version stays in force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compileAuthz } from '../../../agent/src/authz/index.js';
import { IndexAllocator, buildNodeView } from '../../../agent/src/state/index.js';
import { MeshError } from '../../../common/errors.js';
import { configServiceDefinition, fromWire, toWire } from '../../../controller/src/grpc/index.js';
import { parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';
import { ManifestSource } from '../../../controller/src/sources/index.js';
import { ConfigModel, applyUpdate, nodeConfigFrom, type ConfigUpdate } from '../../../controller/src/views/index.js';
import { CLUSTER_YAML, MESH, clusterConfig } from './cluster.js';

/** Through protobuf bytes, as the agent receives it. */
const overTheWire = (w: Record<string, unknown>): unknown => {
  const def = (configServiceDefinition as unknown as Record<string, { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>).Stream!;
  return def.responseDeserialize(def.responseSerialize(w));
};

test('the namespace annotation reaches WorkloadCfg.defaultInboundPolicy; no annotation leaves it absent', () => {
  const cfg = clusterConfig();
  assert.equal(cfg.workloads.get('pay/api')?.defaultInboundPolicy, 'deny');
  assert.equal(cfg.workloads.get('ops/prober')?.defaultInboundPolicy, 'cluster-authenticated');
  assert.equal('defaultInboundPolicy' in cfg.workloads.get('shop/web-1')!, false);
});

test('an unknown default-inbound-policy annotation rejects the Namespace at its field path', () => {
  const r = parseManifests('ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: { name: x, annotations: { nodemesh.io/default-inbound-policy: allow-all } }\n');
  assert.equal(r.objects.length, 0);
  assert.equal(r.problems[0]?.path, 'metadata.annotations.nodemesh.io/default-inbound-policy');
  assert.match(r.problems[0]!.message, /one of all-unauthenticated, all-authenticated, cluster-authenticated, deny/);
});

test('Services carry their selector and numeric target ports', () => {
  const web = clusterConfig().services.get('shop/web')!;
  assert.deepEqual(web.selector, { app: 'web' });
  assert.deepEqual(web.ports.map((p) => [p.port, p.targetPort]), [[80, undefined], [9000, 9001]]);
});

test('wire round trip (protobuf bytes) keeps defaultInboundPolicy, selector, targetPort and the policies', () => {
  const m = new ConfigModel('cluster.local'); // the mesh resource needs real anchors; its wire form is tested in test/unit/ca
  const p = parseManifests('c.yaml', CLUSTER_YAML);
  m.update(resourcesFrom(p.objects));
  const full = m.fullUpdate('node-a');
  const back = fromWire(overTheWire(toWire(full)));
  const direct = applyUpdate(undefined, full);
  const wired = applyUpdate(undefined, back);
  assert.deepEqual([...wired.workloads], [...direct.workloads]);
  assert.deepEqual([...wired.services], [...direct.services]);
  assert.deepEqual([...wired.policies], [...direct.policies]);
  const view = (c: typeof direct) => buildNodeView({ ...c, mesh: MESH }, 'node-a', [], new IndexAllocator());
  assert.deepEqual(compileAuthz(view(wired)), compileAuthz(view(direct)));
});

test('fromWire rejects an unknown workload defaultInboundPolicy and a bad targetPort with their paths', () => {
  const base = toWire({ version: 1, full: true, upserts: [...clusterConfig().workloads].slice(0, 1).map(([key, value]) => ({ type: 'workload' as const, key, value })), removes: [] } satisfies ConfigUpdate);
  const w = overTheWire(base) as { upserts: { workload: Record<string, unknown> }[] };
  w.upserts[0]!.workload.defaultInboundPolicy = 'allow-all';
  assert.throws(() => fromWire(w), (e: unknown) => e instanceof MeshError && /upserts\[0\]\.workload\.defaultInboundPolicy: unknown policy "allow-all"/.test(e.message));
  const svc = { version: 1, upserts: [{ key: 'shop/web', kind: 'service', service: { namespace: 'shop', name: 'web', vip: '', ports: [{ name: 'h', port: 80, targetPort: 70000, endpoints: [] }], selector: {} } }] };
  assert.throws(() => fromWire(svc), /upserts\[0\]\.service\.ports\[0\]\.targetPort: 70000 is not a port/);
});

const head = (name: string): string => `apiVersion: policy.nodemesh.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: { name: ${name}, namespace: shop }\n`;

test('the AuthorizationPolicy CRD accepts AUDIT, no target, a selector and ipBlocks', () => {
  const r = parseManifests('ok.yaml', [
    `${head('a')}spec: { action: AUDIT, rules: [{}] }`,
    `${head('b')}spec: {}`,
    `${head('c')}spec: { selector: { matchLabels: { app: web } }, rules: [{ from: [{ ipBlocks: ["10.0.0.0/8", "192.168.1.1", "0.0.0.0/0"] }] }] }`,
  ].join('\n---\n'));
  assert.deepEqual(r.problems, []);
  assert.equal(r.objects.length, 3);
});

test('the AuthorizationPolicy CRD rejects bad ipBlocks and actions at their field paths', () => {
  const rows: [string, string][] = [
    ['{ rules: [{ from: [{ ipBlocks: ["10.0.0.0/33"] }] }] }', 'spec.rules[0].from[0].ipBlocks[0]'],
    ['{ rules: [{ from: [{ ipBlocks: ["10.0.0.01/8"] }] }] }', 'spec.rules[0].from[0].ipBlocks[0]'],
    ['{ rules: [{ from: [{ ipBlocks: ["fd00::/8"] }] }] }', 'spec.rules[0].from[0].ipBlocks[0]'],
    ['{ rules: [{ from: [{ ipBlocks: [] }] }] }', 'spec.rules[0].from[0].ipBlocks'],
    ['{ action: LOG }', 'spec.action'],
    ['{ selector: { labels: { a: b } } }', 'spec.selector.matchLabels'],
  ];
  for (const [spec, p] of rows) {
    const r = parseManifests('bad.yaml', `${head('x')}spec: ${spec}\n`);
    assert.equal(r.objects.length, 0, spec);
    assert.equal(r.problems[0]?.path, p, `${spec}: ${r.problems[0]?.message}`);
  }
});

test('the AuthorizationPolicy CRD accepts every L7 field with its wildcard forms', () => {
  const r = parseManifests('l7.yaml', `${head('l7')}spec: { action: DENY, rules: [{ to: [{ ports: [80], methods: [GET], notMethods: [POST], paths: ["/api/*", "*.css", "/x", "*"], notPaths: ["/private/*"], hosts: ["web.shop.svc.cluster.local", "*.example.com", "api.*", "*"], notHosts: ["evil.example.com"], headers: { user-agent: ["*iPhone"], x-region: ["es-south", "eu-*", "*"] } }] }] }\n`);
  assert.deepEqual(r.problems, []);
  assert.equal(r.objects.length, 1);
});

test('the AuthorizationPolicy CRD rejects malformed L7 fields at their field paths', () => {
  const rows: [string, string][] = [
    ['{ rules: [{ to: [{ methods: [get] }] }] }', 'spec.rules[0].to[0].methods[0]'],
    ['{ rules: [{ to: [{ notMethods: [] }] }] }', 'spec.rules[0].to[0].notMethods'],
    ['{ rules: [{ to: [{ paths: ["api"] }] }] }', 'spec.rules[0].to[0].paths[0]'],
    ['{ rules: [{ to: [{ paths: ["/a/*/b"] }] }] }', 'spec.rules[0].to[0].paths[0]'],
    ['{ rules: [{ to: [{ notPaths: ["/a?b"] }] }] }', 'spec.rules[0].to[0].notPaths[0]'],
    ['{ rules: [{ to: [{ hosts: ["*web*"] }] }] }', 'spec.rules[0].to[0].hosts[0]'],
    ['{ rules: [{ to: [{ notHosts: ["a b"] }] }] }', 'spec.rules[0].to[0].notHosts[0]'],
    ['{ rules: [{ to: [{ headers: { x-a: "1" } }] }] }', 'spec.rules[0].to[0].headers.x-a'],
    ['{ rules: [{ to: [{ headers: { x-a: [] } }] }] }', 'spec.rules[0].to[0].headers.x-a'],
    ['{ rules: [{ to: [{ headers: { x-a: ["*a*"] } }] }] }', 'spec.rules[0].to[0].headers.x-a[0]'],
    ['{ rules: [{ to: [{ headers: { x-a: [""] } }] }] }', 'spec.rules[0].to[0].headers.x-a[0]'],
    ['{ rules: [{ to: [{ method: [GET] }] }] }', 'spec.rules[0].to[0].method'],
  ];
  for (const [spec, p] of rows) {
    const r = parseManifests('bad.yaml', `${head('x')}spec: ${spec}\n`);
    assert.equal(r.objects.length, 0, spec);
    assert.equal(r.problems[0]?.path, p, `${spec}: ${r.problems[0]?.message}`);
  }
});

test('an invalid policy version is rejected with its field path; the last valid one stays compiled', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-authz-'));
  try {
    const base = CLUSTER_YAML.split('---\n').filter((d) => !d.includes('kind: AuthorizationPolicy') && !d.includes('kind: MeshTLSPolicy')).join('---\n');
    writeFileSync(path.join(dir, 'cluster.yaml'), base);
    const f = path.join(dir, 'policy.yaml');
    writeFileSync(f, `${head('web-deny')}spec: { action: DENY, rules: [{ from: [{ ipBlocks: ["10.9.0.0/16"] }] }] }\n`);
    const src = new ManifestSource(dir);
    const compile = (): ReturnType<typeof compileAuthz> => compileAuthz(buildNodeView(nodeConfigFrom(src.load().resources, 'node-a', 'cluster.local', MESH), 'node-a', [], new IndexAllocator()));
    const good = compile();
    assert.deepEqual(good.policies.map((p) => p.name), ['shop/web-deny']);
    writeFileSync(f, `${head('web-deny')}spec: { action: DENY, rules: [{ from: [{ ipBlocks: ["10.9.0.0/33", "x"] }] }] }\n`);
    const s = src.load();
    assert.deepEqual(s.problems.map((p) => p.path), ['spec.rules[0].from[0].ipBlocks[0]']);
    assert.deepEqual(compile(), good);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
