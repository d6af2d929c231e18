// Route status for mesh (GAMMA) parents (controller/src/routes/status.ts): Accepted and ResolvedRefs
// per Service parentRef, one row per reason, the rejected route as UnsupportedValue with its field
// path, the write-back merge that keeps other controllers' entries (status-writer.ts), and the
// controller's admin endpoint serving them in manifest mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { runController, TokenFileAuth } from '../../../controller/src/index.js';
import { ManifestSource } from '../../../controller/src/sources/index.js';
import { parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';
import { CONTROLLER_NAME, routeStatuses, type RouteStatus } from '../../../controller/src/routes/index.js';
import { RouteStatusWriter, mergeParents } from '../../../controller/src/sources/kube/status-writer.js';
import { KubeClient } from '../../../controller/src/sources/kube/client.js';
import { BUILTIN_TYPES } from '../../../controller/src/sources/kube/types.js';
import { KubeConfig } from '@kubernetes/client-node';
import type { MeshError } from '../../../common/errors.js';

const CLUSTER = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { clusterIP: 10.96.0.10, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: web-v2, namespace: shop }
spec: { clusterIP: 10.96.0.11, selector: { app: web-v2 }, ports: [{ port: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: other, namespace: pay }
spec: { clusterIP: 10.96.0.12, ports: [{ port: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: dns, namespace: shop }
spec: { clusterIP: 10.96.0.13, ports: [{ port: 53, protocol: UDP }] }
---
apiVersion: v1
kind: Service
metadata: { name: headless, namespace: shop }
spec: { clusterIP: None, selector: { app: web }, ports: [{ port: 80 }] }
`;

const httpRoute = (name: string, spec: string, extra = ''): string => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: shop, generation: 3${extra} }
spec: ${spec}
`;

function statusOf(routes: string, name = 'r'): RouteStatus {
  const r = parseManifests('s.yaml', CLUSTER + routes);
  const all = routeStatuses(resourcesFrom(r.objects), r.problems);
  const s = all.find((x) => x.name === name);
  assert.ok(s, `no status for ${name}`);
  return s;
}

const conds = (s: RouteStatus): string[][] => s.parents.map((p) => p.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)).flat().map((x) => [x]);

/** [what, spec, Accepted, ResolvedRefs (undefined: absent), a fragment of the message that is False] */
const ROWS: Array<[string, string, string, string | undefined, string?]> = [
  ['a route with every reference resolved', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ name: web-v2, port: 8080, weight: 90 }, { name: web, port: 80, weight: 10 }] }] }', 'True/Accepted', 'True/ResolvedRefs'],
  ['a parent without a port', '{ parentRefs: [{ group: "", kind: Service, name: web }], rules: [{ backendRefs: [{ name: web, port: 80 }] }] }', 'True/Accepted', 'True/ResolvedRefs'],
  ['a missing parent Service', '{ parentRefs: [{ group: "", kind: Service, name: nope, port: 80 }], rules: [{ backendRefs: [{ name: web, port: 80 }] }] }', 'False/NoMatchingParent', 'True/ResolvedRefs', 'shop/nope does not exist'],
  ['a headless parent Service', '{ parentRefs: [{ group: "", kind: Service, name: headless, port: 80 }], rules: [{ backendRefs: [{ name: web, port: 80 }] }] }', 'False/NoMatchingParent', 'True/ResolvedRefs', 'shop/headless is headless'],
  ['a parent port the Service lacks', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 81 }], rules: [{ backendRefs: [{ name: web, port: 80 }] }] }', 'False/NoMatchingParent', 'True/ResolvedRefs', 'has no TCP port 81 (ports: 80/TCP)'],
  ['a parent Service of another namespace (a consumer route)', '{ parentRefs: [{ group: "", kind: Service, name: other, namespace: pay, port: 80 }], rules: [{ backendRefs: [{ name: web, port: 80 }] }] }', 'True/Accepted', 'True/ResolvedRefs'],
  ['a missing backend Service', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ name: web-v3, port: 8080 }] }] }', 'True/Accepted', 'False/BackendNotFound', 'shop/web-v3 does not exist'],
  ['a backend port the Service lacks', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ name: web-v2, port: 9090 }] }] }', 'True/Accepted', 'False/BackendNotFound', 'has no TCP port 9090'],
  ['a backend port that is UDP', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ name: dns, port: 53 }] }] }', 'True/Accepted', 'False/BackendNotFound', 'shop/dns has no TCP port 53'],
  ['a backend of another kind', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ group: example.com, kind: Bucket, name: b }] }] }', 'True/Accepted', 'False/InvalidKind', 'example.com/Bucket'],
  ['a cross-namespace backend (no ReferenceGrant needed in a mesh, GEP-1294)', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ name: other, namespace: pay, port: 80 }] }] }', 'True/Accepted', 'True/ResolvedRefs'],
  ['a missing cross-namespace backend', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ name: nope, namespace: pay, port: 80 }] }] }', 'True/Accepted', 'False/BackendNotFound', 'Service pay/nope does not exist'],
  ['a missing mirror backend', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: shadow, port: 80 } } }], backendRefs: [{ name: web, port: 80 }] }] }', 'True/Accepted', 'False/BackendNotFound', 'spec.rules[0].filters[0].requestMirror.backendRef'],
  ['a rule without backends', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{}] }', 'True/Accepted', 'True/ResolvedRefs'],
];

for (const [what, spec, accepted, resolved, fragment] of ROWS) {
  test(`status of ${what}: Accepted ${accepted}${resolved ? `, ResolvedRefs ${resolved}` : ''}`, () => {
    const s = statusOf(httpRoute('r', spec));
    assert.equal(s.parents.length, 1);
    const p = s.parents[0]!;
    assert.equal(p.controllerName, CONTROLLER_NAME);
    const byType = new Map(p.conditions.map((c) => [c.type, c]));
    const a = byType.get('Accepted')!;
    assert.equal(`${a.status}/${a.reason}`, accepted);
    const r = byType.get('ResolvedRefs');
    assert.equal(r ? `${r.status}/${r.reason}` : undefined, resolved);
    for (const c of p.conditions) assert.equal(c.observedGeneration, 3);
    if (fragment) {
      const falsy = p.conditions.find((c) => c.status === 'False')!;
      assert.ok(falsy.message.includes(fragment), falsy.message);
    }
  });
}

test('a Gateway parent is not ours: no entry; one entry per Service parentRef, in order', () => {
  const s = statusOf(httpRoute('r', '{ parentRefs: [{ name: gw }, { group: "", kind: Service, name: web, port: 80 }, { kind: Service, name: web-v2 }], rules: [{ backendRefs: [{ name: web, port: 80 }] }] }'));
  assert.deepEqual(s.parents.map((p) => [p.parentRef.kind, p.parentRef.name, p.parentRef.port]), [['Service', 'web', 80], ['Service', 'web-v2', undefined]]);
  assert.deepEqual(conds(s), [['Accepted=True/Accepted'], ['ResolvedRefs=True/ResolvedRefs'], ['Accepted=True/Accepted'], ['ResolvedRefs=True/ResolvedRefs']]);
});

test('several unresolved references: the first decides the reason, the message counts the rest', () => {
  const s = statusOf(httpRoute('r', '{ parentRefs: [{ group: "", kind: Service, name: web }], rules: [{ backendRefs: [{ name: a, port: 1 }, { kind: Bucket, group: x.io, name: b }] }, { backendRefs: [{ name: c, port: 1 }] }] }'));
  const c = s.parents[0]!.conditions.find((x) => x.type === 'ResolvedRefs')!;
  assert.equal(c.reason, 'BackendNotFound');
  assert.match(c.message, /^spec\.rules\[0\]\.backendRefs\[0\]: Service shop\/a does not exist \(and 2 more: spec\.rules\[0\]\.backendRefs\[1\].*; spec\.rules\[1\]\.backendRefs\[0\]/);
});

test('a rejected edit of a valid route: UnsupportedValue with the path, the parents of the last valid version', () => {
  const good = httpRoute('r', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ name: web, port: 80 }] }] }');
  const first = parseManifests('a.yaml', CLUSTER + good);
  const bad = parseManifests('a.yaml', httpRoute('r', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ timeouts: { request: 10 } }] }'));
  // the source keeps the last valid version in force and reports the problem (sources/manifests.ts)
  const all = routeStatuses(resourcesFrom(first.objects), bad.problems);
  assert.equal(all.length, 1);
  const s = all[0]!;
  assert.deepEqual(s.rejected, { path: 'spec.rules[0].timeouts.request', message: bad.problems[0]!.message });
  assert.deepEqual(s.parents.map((p) => p.parentRef.name), ['web']);
  const c = s.parents[0]!.conditions;
  assert.deepEqual(c.map((x) => `${x.type}=${x.status}/${x.reason}`), ['Accepted=False/UnsupportedValue']);
  assert.match(c[0]!.message, /^spec\.rules\[0\]\.timeouts\.request: .*last valid version/);
});

test('a rejected route never valid: reported without parents unless the source knows them (heads)', () => {
  const bad = parseManifests('a.yaml', CLUSTER + httpRoute('r', '{ parentRefs: [{ group: "", kind: Service, name: web }], rules: [{ matches: [{ method: get }] }] }'));
  const res = resourcesFrom(bad.objects);
  const [plain] = routeStatuses(res, bad.problems);
  assert.equal(plain!.parents.length, 0);
  assert.equal(plain!.rejected?.path, 'spec.rules[0].matches[0].method');
  const heads = new Map([['HTTPRoute/shop/r', { kind: 'HTTPRoute' as const, namespace: 'shop', name: 'r', generation: 7, parentRefs: [{ group: '', kind: 'Service', name: 'web' }] }]]);
  const [known] = routeStatuses(res, bad.problems, heads);
  assert.equal(known!.generation, 7);
  assert.deepEqual(known!.parents.map((p) => [p.parentRef.name, p.conditions[0]!.reason, p.conditions[0]!.observedGeneration]), [['web', 'UnsupportedValue', 7]]);
});

test('statuses are sorted by kind/namespace/name and cover GRPCRoutes', () => {
  const r = parseManifests('s.yaml', `${CLUSTER}${httpRoute('b', '{ parentRefs: [{ group: "", kind: Service, name: web }] }')}${httpRoute('a', '{ parentRefs: [{ group: "", kind: Service, name: web }] }')}---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: g, namespace: shop }
spec: { parentRefs: [{ group: "", kind: Service, name: web-v2, port: 8080 }], rules: [{ backendRefs: [{ name: web-v2, port: 8080 }] }] }
`);
  assert.deepEqual(r.problems, []);
  const all = routeStatuses(resourcesFrom(r.objects), r.problems);
  assert.deepEqual(all.map((s) => `${s.kind}/${s.name}/${s.generation}`), ['GRPCRoute/g/1', 'HTTPRoute/a/3', 'HTTPRoute/b/3']);
  assert.equal(all[0]!.parents[0]!.conditions[1]!.status, 'True');
});

test('GEP-1426: an HTTPRoute sharing a Service port with a GRPCRoute of its namespace is Conflicted; another port or namespace is not', () => {
  const grpc = (name: string, ns: string, parent: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: ${name}, namespace: ${ns} }
spec: { parentRefs: [${parent}], rules: [{ backendRefs: [{ name: web-v2, namespace: shop, port: 8080 }] }] }
`;
  const rows: Array<[string, string, string]> = [
    ['same port', grpc('g', 'shop', '{ group: "", kind: Service, name: web, port: 80 }'), 'False/Conflicted'],
    ['the GRPCRoute names no port', grpc('g', 'shop', '{ group: "", kind: Service, name: web }'), 'False/Conflicted'],
    ['another Service', grpc('g', 'shop', '{ group: "", kind: Service, name: web-v2, port: 8080 }'), 'True/Accepted'],
    ['a consumer GRPCRoute of another namespace', grpc('g', 'pay', '{ group: "", kind: Service, name: web, namespace: shop, port: 80 }'), 'True/Accepted'],
  ];
  for (const [what, g, want] of rows) {
    const s = statusOf(httpRoute('r', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ name: web, port: 80 }] }] }') + g);
    const accepted = s.parents[0]!.conditions.find((c) => c.type === 'Accepted')!;
    assert.equal(`${accepted.status}/${accepted.reason}`, want, what);
    if (want.startsWith('False')) assert.match(accepted.message, /GRPCRoute shop\/g .*GEP-1426/);
  }
});

test('mergeParents keeps other controllers\' entries and the transition time of an unchanged condition', () => {
  const ours = { group: '', kind: 'Service', name: 'web', port: 80 };
  const observed = [
    { parentRef: { name: 'gw' }, controllerName: 'example.com/gateway', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', observedGeneration: 1, lastTransitionTime: '2020-01-01T00:00:00Z' }] },
    { parentRef: ours, controllerName: CONTROLLER_NAME, conditions: [
      { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'x', observedGeneration: 1, lastTransitionTime: '2021-01-01T00:00:00Z' },
      { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'x', observedGeneration: 1, lastTransitionTime: '2021-01-01T00:00:00Z' },
    ] },
    { parentRef: { group: '', kind: 'Service', name: 'gone' }, controllerName: CONTROLLER_NAME, conditions: [] },
  ];
  const desired = [{ parentRef: ours, controllerName: CONTROLLER_NAME, conditions: [
    { type: 'Accepted' as const, status: 'True' as const, reason: 'Accepted', message: 'y', observedGeneration: 2 },
    { type: 'ResolvedRefs' as const, status: 'False' as const, reason: 'BackendNotFound', message: 'z', observedGeneration: 2 },
  ] }];
  const merged = mergeParents(observed, desired, '2026-12-07T00:00:00Z') as { controllerName: string; parentRef: { name: string }; conditions: { type: string; status: string; lastTransitionTime: string; observedGeneration: number }[] }[];
  assert.deepEqual(merged.map((p) => [p.controllerName, p.parentRef.name]), [['example.com/gateway', 'gw'], [CONTROLLER_NAME, 'web']]);
  assert.deepEqual(merged[0], observed[0], 'another controller\'s entry is untouched');
  assert.deepEqual(merged[1]!.conditions.map((c) => [c.type, c.status, c.lastTransitionTime, c.observedGeneration]), [
    ['Accepted', 'True', '2021-01-01T00:00:00Z', 2],
    ['ResolvedRefs', 'False', '2026-12-07T00:00:00Z', 2],
  ]);
});

test('manifest mode: the controller serves the statuses on its admin endpoint (/routes/status) and follows edits', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-route-admin-'));
  const sock = path.join(dir, 'admin.sock');
  const get = (p: string): Promise<{ routes: RouteStatus[]; controllerName: string }> => new Promise((resolve, reject) => {
    http.get({ socketPath: sock, path: p }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => { b += c.toString(); });
      res.on('end', () => { try { resolve(JSON.parse(b) as { routes: RouteStatus[]; controllerName: string }); } catch (e) { reject(e as Error); } });
    }).on('error', reject);
  });
  const manifests = path.join(dir, 'm');
  mkdirSync(manifests);
  writeFileSync(path.join(manifests, 'c.yaml'), CLUSTER + httpRoute('r', '{ parentRefs: [{ group: "", kind: Service, name: web, port: 80 }], rules: [{ backendRefs: [{ name: web-v3, port: 80 }] }] }'));
  const ctl = await runController({ source: new ManifestSource(manifests), auth: new TokenFileAuth(new Map([['n1', 't1']])), grpcHost: '127.0.0.1', grpcPort: 0, adminPort: -1, adminSocket: sock, log: pino({ level: 'silent' }) });
  try {
    const first = await get('/routes/status');
    assert.equal(first.controllerName, CONTROLLER_NAME);
    assert.deepEqual(first.routes.map((r) => [r.name, r.parents[0]!.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)]), [['r', ['Accepted=True/Accepted', 'ResolvedRefs=False/BackendNotFound']]]);
    writeFileSync(path.join(manifests, 'd.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: { name: web-v3, namespace: shop }\nspec: { ports: [{ port: 80 }] }\n');
    let now = first;
    for (let i = 0; i < 100 && now.routes[0]!.parents[0]!.conditions[1]!.status !== 'True'; i++) {
      await new Promise((r) => setTimeout(r, 30));
      now = await get('/routes/status');
    }
    assert.equal(now.routes[0]!.parents[0]!.conditions[1]!.reason, 'ResolvedRefs');
    assert.deepEqual((await get('/routes/status?namespace=pay')).routes, []);
  } finally {
    await ctl.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A stand-in API server for the status subresource: each request answered by `answer`, all recorded. */
async function statusServer(answer: (req: { method: string; url: string; body: unknown }, n: number) => [number, unknown]): Promise<{ url: string; reqs: { method: string; url: string; body: unknown }[]; close: () => Promise<void> }> {
  const reqs: { method: string; url: string; body: unknown }[] = [];
  const srv = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => { b += c.toString(); });
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', body: b ? JSON.parse(b) as unknown : undefined };
      reqs.push(r);
      const [code, body] = answer(r, reqs.length);
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, reqs, close: () => new Promise((r) => { srv.close(() => r()); }) };
}

function writerFor(url: string, observed: unknown[], errors: MeshError[], o: { attempts?: number; resyncMs?: number } = {}): RouteStatusWriter {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: url, skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  const objects = new Map([['HTTPRoute/shop/r', { head: { kind: 'HTTPRoute' as const, namespace: 'shop', name: 'r', generation: 2, parentRefs: [] }, parents: observed, rv: '5' }]]);
  return new RouteStatusWriter(new KubeClient({ kubeConfig: kc }), BUILTIN_TYPES, () => objects, (e) => errors.push(e), { backoffMs: 5, attempts: o.attempts ?? 3, resyncMs: o.resyncMs ?? 60_000 });
}

const WANT: RouteStatus = {
  kind: 'HTTPRoute', namespace: 'shop', name: 'r', generation: 2,
  parents: [{ parentRef: { group: '', kind: 'Service', name: 'web', port: 80 }, controllerName: CONTROLLER_NAME, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', observedGeneration: 2 }] }],
};
const THEIRS = { controllerName: 'example.com/gw', parentRef: { name: 'gw' }, conditions: [] };

async function settle(w: RouteStatusWriter, pred: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred(), JSON.stringify(w.stats));
}

test('status writer: a 409 re-reads the object and retries on its resourceVersion, keeping the entries read', async () => {
  const s = await statusServer((r, n) => {
    if (r.method === 'GET') return [200, { metadata: { resourceVersion: '6' }, status: { parents: [THEIRS] } }];
    return n === 1 ? [409, { kind: 'Status', code: 409, message: 'the object has been modified' }] : [200, {}];
  });
  const errors: MeshError[] = [];
  const w = writerFor(s.url, [], errors);
  try {
    w.reconcile([WANT]);
    await settle(w, () => w.stats.patches === 1);
    assert.deepEqual(s.reqs.map((r) => `${r.method} ${r.url}`), [
      'PATCH /apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/r/status',
      'GET /apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/r/status',
      'PATCH /apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/r/status',
    ]);
    const [first, , second] = s.reqs.map((r) => r.body as { metadata: { resourceVersion: string }; status: { parents: { controllerName: string }[] } });
    assert.equal(first!.metadata.resourceVersion, '5');
    assert.equal(second!.metadata.resourceVersion, '6');
    assert.deepEqual(second!.status.parents.map((p) => p.controllerName), ['example.com/gw', CONTROLLER_NAME]);
    assert.deepEqual(w.stats, { patches: 1, conflicts: 1, failures: 0 });
    // the store has not seen the write yet: the same desired status is not written twice
    w.reconcile([WANT]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.reqs.length, 3);
    assert.deepEqual(errors, []);
  } finally {
    w.close();
    await s.close();
  }
});

test('status writer: bounded tries on 5xx, reported, then retried at the resync; 403 names the RBAC rule; a current status writes nothing', async () => {
  let code = 500;
  const s = await statusServer(() => [code, { kind: 'Status', code, message: 'boom' }]);
  const errors: MeshError[] = [];
  const w = writerFor(s.url, [], errors, { attempts: 3, resyncMs: 100 });
  try {
    w.reconcile([WANT]);
    await settle(w, () => w.stats.failures === 1);
    assert.equal(s.reqs.length, 3, 'three tries, no more');
    assert.equal(errors[0]?.code, 'MESH_ERR_KUBE_API');
    assert.match(errors[0]!.message, /could not write the status of HTTPRoute shop\/r after 3 tries \(HTTP 500/);
    code = 200;
    await settle(w, () => w.stats.patches === 1);
    assert.equal(s.reqs.length, 4, 'the resync wrote it');
  } finally {
    w.close();
    await s.close();
  }
  const denied = await statusServer(() => [403, { kind: 'Status', code: 403, message: 'forbidden' }]);
  const e2: MeshError[] = [];
  const w2 = writerFor(denied.url, [], e2);
  try {
    w2.reconcile([WANT]);
    await settle(w2, () => e2.length === 1);
    assert.equal(e2[0]!.code, 'MESH_ERR_KUBE_FORBIDDEN');
    assert.match(e2[0]!.message, /grant get and patch on httproutes\/status/);
  } finally {
    w2.close();
    await denied.close();
  }
  const quiet = await statusServer(() => [200, {}]);
  const current = mergeParents([THEIRS], WANT.parents, '2026-01-01T00:00:00Z');
  const w3 = writerFor(quiet.url, current, []);
  try {
    w3.reconcile([WANT]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(quiet.reqs.length, 0, 'our entries already say this');
  } finally {
    w3.close();
    await quiet.close();
  }
});

test('status writer: close() aborts the request in flight (nothing holds the process)', async () => {
  let closedByClient: (() => void) | undefined;
  const gone = new Promise<void>((r) => { closedByClient = r; });
  const srv = http.createServer((req) => { req.socket.on('close', () => closedByClient!()); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const w = writerFor(`http://127.0.0.1:${(srv.address() as { port: number }).port}`, [], []);
  try {
    w.reconcile([WANT]);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    w.close();
    await gone;
    assert.ok(Date.now() - t0 < 1000, 'the socket closed at once');
    assert.deepEqual(w.stats, { patches: 0, conflicts: 0, failures: 0 });
  } finally {
    await new Promise((r) => { srv.close(r); });
  }
});
