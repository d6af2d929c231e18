// compileAuthz from node views built like the agent builds them: policy scopes, Service port
// mapping, MeshTLSPolicy precedence, default policies, determinism, malformed specs; and the
// "compiled" table of test/fixtures/authz/cases.json is exactly what the fixture cluster compiles to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, compileAuthz, type TableAuthz } from '../../../agent/src/authz/index.js';
import { compileTable } from '../../../agent/src/decide/index.js';
import { IndexAllocator, buildNodeView } from '../../../agent/src/state/index.js';
import { MeshError } from '../../../common/errors.js';
import { applyUpdate, type NodeConfig } from '../../../controller/src/views/index.js';
import { CLUSTER_YAML, MESH, cases, clusterConfig, clusterView } from './cluster.js';

const view = clusterView();
const table = compileAuthz(view);
const byIp = (t: TableAuthz, ip: string) => t.workloads.find((w) => w.ip === ip);
const names = (t: TableAuthz, ip: string): string[] => (byIp(t, ip)?.policies ?? []).map((i) => t.policies[i]!.name);

test('the compiled table of cases.json is what the fixture cluster compiles to', () => {
  const stored = cases().tables.find((t) => t.name === 'compiled')!.table;
  assert.deepEqual(table, stored, `regenerate cases.json's "compiled" table:\n${JSON.stringify(table)}`);
});

test('compileTable carries the authz part', () => {
  assert.deepEqual(compileTable(view, 1).authz, table);
});

test('L7 operations compile into http (hosts and header names lowercased, headers sorted) and needsHttp per workload', () => {
  const api = byIp(table, '10.200.1.20')!;
  assert.deepEqual(api.needsHttp, [7070]);
  const l7 = table.policies.find((p) => p.name === 'pay/api-l7')!;
  assert.deepEqual(l7.rules, [{
    from: [{ namespaces: ['shop'] }], ports: [7070], l7: true,
    http: { methods: ['DELETE'], notPaths: ['/v1/*'], hosts: ['api.pay.svc.cluster.local', '*.example.com'], headers: [{ name: 'user-agent', values: ['*iPhone'] }, { name: 'x-region', values: ['es-*'] }] },
  }]);
  // web-1: the DENY path rule on 8080 and the ops GET rule on 9001; web-2: the DENY on every port (unresolved named port)
  assert.deepEqual(byIp(table, '10.200.1.10')!.needsHttp, [8080, 9001]);
  assert.equal(byIp(table, '10.200.1.11')!.needsHttp, true);
  assert.equal(byIp(table, '10.200.1.12')!.needsHttp, false);
  for (const p of table.policies) for (const r of p.rules) assert.equal(r.l7, r.http !== null, `${p.name}: l7 exactly when http is set`);
});

test('enrolled pods of this node only, sorted by address', () => {
  assert.deepEqual(table.workloads.map((w) => w.ip), ['10.200.1.10', '10.200.1.11', '10.200.1.12', '10.200.1.13', '10.200.1.20', '10.200.1.21', '10.200.1.40']);
  assert.equal(table.trustDomain, 'cluster.local');
});

test('policy scopes: mesh-wide, namespace, selector, Service, Namespace target; HTTPRoute, missing and foreign targets skipped', () => {
  assert.deepEqual(names(table, '10.200.1.10'), ['nodemesh-system/deny-blocked', 'shop/audit-all', 'shop/web-deny-admin', 'shop/web-readers']);
  assert.deepEqual(names(table, '10.200.1.12'), ['nodemesh-system/deny-blocked', 'shop/audit-all', 'shop/db-allow']);
  assert.deepEqual(names(table, '10.200.1.13'), ['nodemesh-system/deny-blocked', 'shop/audit-all']);
  assert.deepEqual(names(table, '10.200.1.20'), ['nodemesh-system/deny-blocked', 'pay/api-allow', 'pay/api-l7']);
  assert.deepEqual(names(table, '10.200.1.21'), ['nodemesh-system/deny-blocked']);
  assert.deepEqual(names(table, '10.200.1.40'), ['nodemesh-system/deny-blocked', 'ops/ns-deny']);
  const all = new Set(table.policies.map((p) => p.name));
  for (const skipped of ['shop/route-deny', 'shop/missing-svc', 'pay/other-ns', 'nodemesh-system/system-only']) assert.ok(!all.has(skipped), skipped);
});

test('Service target: Service ports become target ports per pod; unresolvable named ports', () => {
  const readers = (ip: string) => table.policies[byIp(table, ip)!.policies.find((i) => table.policies[i]!.name === 'shop/web-readers')!]!;
  assert.deepEqual(readers('10.200.1.10').rules.map((r) => [r.ports, r.l7]), [[[8080], false], [[9001], true]]);
  // web-2 is selected but not a ready endpoint: 80 → "http" cannot be resolved, 9000 → 9001 is numeric
  assert.deepEqual(readers('10.200.1.11').rules.map((r) => [r.ports, r.l7]), [[[], false], [[9001], true]]);
  const deny = (ip: string) => table.policies[byIp(table, ip)!.policies.find((i) => table.policies[i]!.name === 'shop/web-deny-admin')!]!;
  assert.deepEqual(deny('10.200.1.10').rules[0]!.ports, [8080]);
  assert.equal(deny('10.200.1.11').rules[0]!.ports, null, 'a DENY with an unresolvable port covers every port');
});

test('a port that is not a port of the target Service is a pod port', () => {
  const t = compileAuthz(clusterView(CLUSTER_YAML + policy('AuthorizationPolicy', 'shop', 'pod-port', '{ targetRef: { kind: Service, name: web }, rules: [{ to: [{ ports: [8080, 9000] }] }] }')));
  const p = t.policies.find((x) => x.name === 'shop/pod-port' && byIp(t, '10.200.1.10')!.policies.includes(t.policies.indexOf(x)))!;
  assert.deepEqual(p.rules[0]!.ports, [8080, 9001]);
});

test('MeshTLSPolicy: pod selector beats namespace beats mesh-wide; none is PERMISSIVE', () => {
  const m = (ip: string) => { const w = byIp(table, ip)!; return [w.mode, w.modePolicy, w.portModes]; };
  assert.deepEqual(m('10.200.1.12'), ['STRICT', 'shop/db-strict', [{ port: 9090, mode: 'DISABLE' }]]);
  assert.deepEqual(m('10.200.1.10'), ['PERMISSIVE', 'shop/shop-permissive', [{ port: 8443, mode: 'STRICT' }]]);
  assert.deepEqual(m('10.200.1.20'), ['STRICT', 'nodemesh-system/mesh-strict', []]);
  const bare = compileAuthz(clusterView(CLUSTER_YAML.split('---\n').filter((d) => !d.includes('kind: MeshTLSPolicy')).join('---\n')));
  for (const w of bare.workloads) assert.deepEqual([w.mode, w.modePolicy, w.portModes], ['PERMISSIVE', '', []]);
});

test('default policy: the namespace annotation, else the mesh default, else all-unauthenticated', () => {
  assert.equal(byIp(table, '10.200.1.10')!.defaultPolicy, 'all-authenticated');
  assert.equal(byIp(table, '10.200.1.21')!.defaultPolicy, 'deny');
  assert.equal(byIp(table, '10.200.1.40')!.defaultPolicy, 'cluster-authenticated');
  const noMesh = compileAuthz(clusterView(CLUSTER_YAML, null));
  assert.equal(byIp(noMesh, '10.200.1.10')!.defaultPolicy, 'all-unauthenticated');
  assert.equal(byIp(noMesh, '10.200.1.21')!.defaultPolicy, 'deny');
  assert.equal(noMesh.trustDomain, 'cluster.local');
  const other = compileAuthz(clusterView(CLUSTER_YAML, { ...MESH, defaultInboundPolicy: 'deny' }));
  assert.equal(byIp(other, '10.200.1.10')!.defaultPolicy, 'deny');
});

test('deterministic: the same table whatever the order objects arrive in', () => {
  const docs = CLUSTER_YAML.split('---\n').filter((d) => d.trim() !== '');
  const reversed = compileAuthz(clusterView(docs.reverse().map((d) => `---\n${d}`).join('')));
  assert.deepEqual(reversed, table);
  // a config whose maps were filled in another order (deltas) compiles the same too
  const cfg = clusterConfig();
  const shuffled: NodeConfig = { ...cfg, policies: new Map([...cfg.policies].reverse()), services: new Map([...cfg.services].reverse()), workloads: new Map([...cfg.workloads].reverse()) };
  assert.deepEqual(compileAuthz(buildNodeView(shuffled, 'node-a', [], new IndexAllocator())), table);
});

test('the view keeps only authorization policies that can apply to this node', () => {
  const kinds = new Set(view.policies.map((p) => p.kind));
  assert.deepEqual([...kinds].sort(), ['AuthorizationPolicy', 'MeshTLSPolicy']);
  const b = buildNodeView(clusterConfig(CLUSTER_YAML, MESH, 'node-b'), 'node-b', [], new IndexAllocator());
  assert.deepEqual(b.local.map((w) => w.key), ['shop/web-3']);
  assert.ok(b.policies.every((p) => p.namespace === 'shop' || p.namespace === 'nodemesh-system'));
  assert.deepEqual([...b.targetServices.keys()], ['shop/web']);
});

test('a malformed policy spec (a skewed controller) is MESH_ERR_CONFIG with its field path', () => {
  const cfg = clusterConfig();
  const cases: [unknown, RegExp][] = [
    [{ action: 'MAYBE' }, /AuthorizationPolicy shop\/x: spec\.action: must be one of ALLOW, DENY, AUDIT/],
    [{ rules: [{ from: [{ ipBlocks: ['10.0.0.0/33'] }] }] }, /spec\.rules\[0\]\.from\[0\]\.ipBlocks\[0\]: "10\.0\.0\.0\/33" is not an IPv4 CIDR/],
    [{ rules: [{ to: [{ ports: [0] }] }] }, /spec\.rules\[0\]\.to\[0\]\.ports\[0\]: 0 is not a port/],
    [{ rules: {} }, /spec\.rules: must be a list/],
    [{ targetRef: { kind: 'Deployment', name: 'x' } }, /spec\.targetRef\.kind/],
    [{ rules: [{ to: [{ methods: ['get'] }] }] }, /spec\.rules\[0\]\.to\[0\]\.methods\[0\]: must be one of GET, HEAD/],
    [{ rules: [{ to: [{ notMethods: 'GET' }] }] }, /spec\.rules\[0\]\.to\[0\]\.notMethods: must be a list/],
    [{ rules: [{ to: [{ paths: ['api/*'] }] }] }, /spec\.rules\[0\]\.to\[0\]\.paths\[0\]: "api\/\*" must start with '\/' or '\*'/],
    [{ rules: [{ to: [{ notPaths: ['/a/*/b'] }] }] }, /spec\.rules\[0\]\.to\[0\]\.notPaths\[0\]: "\/a\/\*\/b": '\*' may only be/],
    [{ rules: [{ to: [{ hosts: ['*web*'] }] }] }, /spec\.rules\[0\]\.to\[0\]\.hosts\[0\]: "\*web\*": '\*' may only be/],
    [{ rules: [{ to: [{ notHosts: [''] }] }] }, /spec\.rules\[0\]\.to\[0\]\.notHosts\[0\]: must be a non-empty string/],
    [{ rules: [{ to: [{ headers: [] }] }] }, /spec\.rules\[0\]\.to\[0\]\.headers: must be a mapping/],
    [{ rules: [{ to: [{ headers: {} }] }] }, /spec\.rules\[0\]\.to\[0\]\.headers: must name at least one header/],
    [{ rules: [{ to: [{ headers: { 'bad name': ['x'] } }] }] }, /spec\.rules\[0\]\.to\[0\]\.headers\.bad name: is not an HTTP header name/],
    [{ rules: [{ to: [{ headers: { 'X-A': ['1'], 'x-a': ['2'] } }] }] }, /spec\.rules\[0\]\.to\[0\]\.headers\.x-a: is listed twice/],
    [{ rules: [{ to: [{ headers: { 'x-a': [] } }] }] }, /spec\.rules\[0\]\.to\[0\]\.headers\.x-a: must list at least one value/],
    [{ rules: [{ to: [{ headers: { 'x-a': ['a*b'] } }] }] }, /spec\.rules\[0\]\.to\[0\]\.headers\.x-a\[0\]: "a\*b": '\*' may only be/],
  ];
  for (const [spec, re] of cases) {
    const bad = applyUpdate(cfg, { version: 99, full: false, upserts: [{ type: 'policy', key: 'AuthorizationPolicy/shop/x', value: { kind: 'AuthorizationPolicy', namespace: 'shop', name: 'x', spec } }], removes: [] });
    const v = buildNodeView(bad, 'node-a', [], new IndexAllocator());
    assert.throws(() => compileAuthz(v), (e: unknown) => e instanceof MeshError && e.code === 'MESH_ERR_CONFIG' && re.test(e.message), String(re));
  }
  const tls = applyUpdate(cfg, { version: 99, full: false, upserts: [{ type: 'policy', key: 'MeshTLSPolicy/shop/y', value: { kind: 'MeshTLSPolicy', namespace: 'shop', name: 'y', spec: { mode: 'ON' } } }], removes: [] });
  assert.throws(() => compileAuthz(buildNodeView(tls, 'node-a', [], new IndexAllocator())), /MeshTLSPolicy shop\/y: spec\.mode: must be one of STRICT, PERMISSIVE, DISABLE/);
});

test('an absent action is ALLOW (the CRD default, not applied in manifest mode); no rules allows nothing', () => {
  const t = compileAuthz(clusterView(CLUSTER_YAML + policy('AuthorizationPolicy', 'pay', 'worker-none', '{ selector: { matchLabels: { app: worker } } }')));
  const p = t.policies.find((x) => x.name === 'pay/worker-none')!;
  assert.deepEqual(p, { name: 'pay/worker-none', action: 'ALLOW', rules: [] });
  assert.deepEqual(authorize(t, { dstIp: '10.200.1.21', dstPort: 80, srcIp: '10.0.0.1', identity: 'spiffe://cluster.local/ns/shop/sa/web', transport: 'mtls' }), { allow: false, code: 'MESH_ERR_AUTHZ_DENIED', policy: 'pay/worker-none', audit: '' });
});

function policy(kind: string, namespace: string, name: string, spec: string): string {
  return `---\napiVersion: policy.nodemesh.io/v1alpha1\nkind: ${kind}\nmetadata: { name: ${name}, namespace: ${namespace} }\nspec: ${spec}\n`;
}
