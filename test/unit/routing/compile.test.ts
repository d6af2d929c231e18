// compileHttp over the cluster of cluster.ts: precedence across routes (hostname, path kind and
// length, method, headers, queries, creationTimestamp, source order, name, rule and match order),
// parentRef ports, GRPCRoute compilation, appProtocol/opaque, backends, filters, faults and rate
// limits, defaults; the node view and decision table carrying it; the seeds' routes from YAML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHttp, grpcMatch, protocolOf, route, DETECT_TIMEOUT_MS, WIRE_MAX_ATTEMPTS, WIRE_MAX_MS, type TableHttp, type TableHttpPort } from '../../../agent/src/routing/index.js';
import type { FaultPolicy } from '../../../controller/src/model/index.js';
import { compileTable } from '../../../agent/src/decide/index.js';
import { IndexAllocator, buildNodeView } from '../../../agent/src/state/index.js';
import { nodeConfigFrom, type NodeConfig } from '../../../controller/src/views/index.js';
import { parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';
import { FAULTS, ROUTES, SERVICES, backend, cases, clusterView, httpRoute, prefix, rule } from './cluster.js';

const table = compileHttp(clusterView());
const port = (t: TableHttp, vip: string, p: number): TableHttpPort => {
  const found = t.ports.find((x) => x.vip === vip && x.port === p);
  assert.ok(found, `port ${vip}:${p}`);
  return found;
};
const order = (p: TableHttpPort) => p.routes.map((e) => `${e.route}#${e.rule}${e.hostnames.length ? `@${e.hostnames[0]}` : ''}`);

test('the compiled table of cases.json is what the cluster compiles to', () => {
  assert.deepEqual(table, cases().tables.compiled, `regenerate cases.json's "compiled" table:\n${JSON.stringify(table)}`);
});

test('precedence on web:80: hostnames, exact, longest prefix, method, headers, queries, age, order, name, regex last', () => {
  assert.deepEqual(order(port(table, '10.96.1.10', 80)), [
    'shop/hosts#0@web.example.com', 'shop/hosts#0@*.example.com',
    'shop/paths#2', 'shop/z-order#0', 'shop/c-same#0', 'shop/d-same#0', 'shop/0-unknown#0', 'shop/bad-backends#0',
    'shop/paths#1', 'shop/methods#0', 'shop/methods#1', 'shop/methods#2', 'shop/methods#0',
    'shop/b-new#0', 'shop/a-old#0', 'shop/b-new#1',
    'shop/paths#0',
  ]);
  const methods = port(table, '10.96.1.10', 80).routes.filter((e) => e.route === 'shop/methods');
  assert.equal(methods[0]!.match.method, 'GET', 'the method match of rule 0 before its plain match');
  assert.equal(methods[3]!.match.method, undefined);
});

test('entry order does not depend on the order routes arrive in', () => {
  const shuffled = compileHttp(clusterView({ routes: [...ROUTES].reverse() }));
  assert.deepEqual(shuffled, table);
});

test('parentRef ports: without a port every port of the Service, with one that port only', () => {
  assert.deepEqual(order(port(table, '10.96.1.10', 9000)), ['shop/filters#1', 'shop/filters#0', 'shop/a-old#0']);
  assert.deepEqual(order(port(table, '10.96.1.10', 5432)), ['shop/a-old#0']);
  const all = table.ports.flatMap((p) => [...p.routes, ...(p.consumers ?? []).flatMap((c) => c.routes)].map((e) => e.route));
  for (const r of ['shop/other-port', 'shop/gateway']) assert.ok(!all.includes(r), `${r} attaches nowhere`);
});

test('consumer routes: a route of another namespace applies to its own namespace\'s clients only, in place of the producer routes', () => {
  for (const p of [80, 9000, 5432]) {
    const wp = port(table, '10.96.1.10', p);
    assert.deepEqual(wp.consumers?.map((c) => [c.namespace, order({ ...wp, routes: c.routes })]), [['other', ['other/consumer#0']]]);
    assert.ok(!wp.routes.some((e) => e.route === 'other/consumer'));
  }
  assert.equal(port(table, '10.96.1.11', 80).consumers, undefined);
  const c = port(table, '10.96.1.10', 80).consumers![0]!.routes[0]!;
  assert.deepEqual(c.backends.map((b) => [b.service, b.invalid ?? 'ok']), [['shop/web', 'ok']], 'a backend in the producer namespace resolves');
  assert.deepEqual(c.fault, { policy: 'shop/web-abort', abort: { status: 503, percent: 10 } }, "the Service's fault applies to consumer routes too");
  const head = { method: 'GET', authority: 'web.shop', path: '/same', query: '', headers: {} };
  const dst = { ip: '10.96.1.10', port: 80 };
  assert.deepEqual(route(table, dst, head, 0, 'other'), { kind: 'forward', entry: 0, route: 'other/consumer', routeKind: 'HTTPRoute', rule: 0, backend: 0, authority: 'web.shop', path: '/same', headers: [] });
  for (const ns of ['shop', 'ops', undefined]) assert.equal(route(table, dst, head, 0, ns).kind === 'forward' && (route(table, dst, head, 0, ns) as { route: string }).route, 'shop/z-order', `client namespace ${ns}`);
});

test('the Service itself serves only ports no route attaches to (Gateway API: otherwise 404)', () => {
  for (const [vip, p, svc] of [['10.96.1.11', 80, 'shop/web-v2'], ['10.96.1.12', 80, 'shop/web-empty'], ['10.96.2.10', 80, 'other/ext']] as const) {
    const routes = port(table, vip, p).routes;
    assert.equal(routes.length, 1);
    assert.deepEqual(routes[0], {
      route: '', kind: 'default', rule: 0, hostnames: [], match: { headers: [], query: [] }, filters: [],
      backends: [{ service: svc, port: p, weight: 1, endpoints: SERVICES.find((s) => `${s.namespace}/${s.name}` === svc)!.ports[0]!.endpoints.map((e) => ({ ip: e.ip, port: e.port })) }],
      requestTimeoutMs: 0, backendTimeoutMs: 0,
    });
  }
  assert.ok(!port(table, '10.96.1.10', 80).routes.some((e) => e.kind === 'default'));
});

test('ports: every TCP port of every Service with a cluster IP, sorted by Service', () => {
  assert.deepEqual(table.ports.map((p) => `${p.service} ${p.vip}:${p.port} ${p.protocol}`), [
    'other/ext 10.96.2.10:80 http1',
    'shop/grpc 10.96.1.13:50051 grpc',
    'shop/web 10.96.1.10:80 http1', 'shop/web 10.96.1.10:9000 detect', 'shop/web 10.96.1.10:5432 tcp',
    'shop/web-empty 10.96.1.12:80 tcp',
    'shop/web-v2 10.96.1.11:80 h2c',
  ]);
});

test('protocolOf: appProtocol names and opaque ports', () => {
  const rows: [string | undefined, boolean, string][] = [
    ['http', false, 'http1'], ['HTTP', false, 'http1'], ['kubernetes.io/ws', false, 'http1'], ['kubernetes.io/h2c', false, 'h2c'], ['grpc', false, 'grpc'],
    ['tcp', false, 'tcp'], [undefined, true, 'tcp'], ['http', true, 'tcp'], [undefined, false, 'detect'], ['mysql', false, 'detect'], ['https', false, 'detect'],
  ];
  for (const [appProtocol, opaque, want] of rows) assert.equal(protocolOf({ ...(appProtocol ? { appProtocol } : {}), opaque }), want, `${appProtocol} opaque=${opaque}`);
});

test('GRPCRoute: precedence exact+headers, exact, service, method only, regex, any; all POST', () => {
  const g = port(table, '10.96.1.13', 50051).routes;
  assert.deepEqual(g.map((e) => e.rule), [4, 5, 3, 2, 1, 0]);
  assert.deepEqual(g.map((e) => e.match.path ?? null), [
    { kind: 'exact', value: '/echo.Echo/Say' }, { kind: 'exact', value: '/echo.Echo/Say' }, { kind: 'prefix', value: '/echo.Echo/' },
    { kind: 'regex', value: '/[^/]+/Health' }, { kind: 'regex', value: '/(?:grpc\\.health\\..*)/(?:[^/]+)' }, null,
  ]);
  assert.ok(g.every((e) => e.kind === 'GRPCRoute' && e.match.method === 'POST' && e.match.query.length === 0));
  assert.deepEqual(g[0]!.match.headers, [{ name: 'x-user', kind: 'exact', value: 'ann' }]);
});

test('GEP-1426: an HTTPRoute on a port a GRPCRoute of its namespace attaches to is ignored', () => {
  const parent = [{ group: '', kind: 'Service', name: 'grpc', port: 50051 }];
  const extra = httpRoute('http-on-grpc', '2026-01-01T00:00:00Z', 50, parent, [rule([prefix('/')], [backend('grpc', 50051)])]);
  const t = compileHttp(clusterView({ routes: [...ROUTES, extra] }));
  assert.ok(!port(t, '10.96.1.13', 50051).routes.some((e) => e.route === 'shop/http-on-grpc'));
  assert.deepEqual(port(t, '10.96.1.13', 50051).routes, port(table, '10.96.1.13', 50051).routes);
  // alone on a port, the same HTTPRoute is used
  const alone = compileHttp(clusterView({ routes: [extra] }));
  assert.deepEqual(port(alone, '10.96.1.13', 50051).routes.map((e) => e.route), ['shop/http-on-grpc']);
});

test('grpcMatch: method-only names are escaped, RegularExpression parts default to one segment', () => {
  assert.deepEqual(grpcMatch({ method: { type: 'Exact', method: 'Get.All' }, headers: [] }).match.path, { kind: 'regex', value: '/[^/]+/Get\\.All' });
  assert.equal(grpcMatch({ method: { type: 'Exact', method: 'X' }, headers: [] }).grpcMethodOnly, true);
  assert.deepEqual(grpcMatch({ method: { type: 'RegularExpression', method: 'Get.*' }, headers: [] }).match.path, { kind: 'regex', value: '/(?:[^/]+)/(?:Get.*)' });
  assert.deepEqual(grpcMatch({ method: { type: 'Exact' }, headers: [] }).match, { method: 'POST', headers: [], query: [] });
  assert.deepEqual(grpcMatch({ headers: [{ type: 'RegularExpression', name: 'X-Tenant', value: 'a|b' }] }).match, { method: 'POST', headers: [{ name: 'x-tenant', kind: 'regex', value: 'a|b' }], query: [] });
});

test('backends: unresolvable ones are invalid with the Gateway API reason; a headless Service and another namespace (GEP-1294: no ReferenceGrant in a mesh) resolve', () => {
  const bad = port(table, '10.96.1.10', 80).routes.find((e) => e.route === 'shop/bad-backends')!;
  assert.deepEqual(bad.backends.map((b) => [b.service, b.port, (b.invalid ?? 'ok').split(':')[0], b.endpoints.length]), [
    ['shop/nope', 80, 'BackendNotFound', 0], ['shop/web', 0, 'BackendNotFound', 0], ['other/ext', 80, 'ok', 1],
    ['shop/web', 80, 'InvalidKind', 0], ['shop/web', 8081, 'BackendNotFound', 0], ['shop/headless', 80, 'ok', 1],
  ]);
  assert.match(bad.backends[0]!.invalid!, /shop\/nope does not exist/);
  assert.match(bad.backends[1]!.invalid!, /has no port/);
  assert.match(bad.backends[4]!.invalid!, /no TCP port 8081/);
  assert.deepEqual(bad.backends[5]!.endpoints, [{ ip: '10.200.1.40', port: 8080 }]);
});

test('weights, endpoints with target ports, timeouts and retry (attempts + 1)', () => {
  const w80 = port(table, '10.96.1.10', 80).routes;
  const canary = w80.find((e) => e.route === 'shop/a-old')!;
  assert.deepEqual(canary.backends.map((b) => [b.service, b.weight, b.endpoints]), [
    ['shop/web', 90, [{ ip: '10.200.1.10', port: 8080 }, { ip: '10.200.1.11', port: 8080 }]], ['shop/web-v2', 10, [{ ip: '10.200.1.20', port: 8080 }]],
  ]);
  assert.equal(canary.requestTimeoutMs, 0);
  assert.equal(canary.retry, undefined);
  const b = w80.find((e) => e.route === 'shop/b-new' && e.rule === 0)!;
  assert.equal(b.requestTimeoutMs, 1500);
  assert.equal(b.backendTimeoutMs, 500);
  assert.deepEqual(b.retry, { attempts: 3, codes: [503, 504], backoffMs: 25 });
  assert.deepEqual(b.match.headers, [{ name: 'x-version', kind: 'exact', value: 'two' }], 'header names lowercased');
});

test('filters: every kind converted, names lowercased, the mirror backend resolved', () => {
  const f = port(table, '10.96.1.10', 9000).routes;
  assert.deepEqual(f[0]!.filters, [{ type: 'redirect', scheme: 'https', hostname: 'web.example.com', port: 8443, path: { kind: 'full', value: '/here' }, status: 301 }]);
  assert.deepEqual(f[0]!.backends, []);
  assert.deepEqual(f[1]!.filters, [
    { type: 'requestHeaders', modifier: { set: [{ name: 'x-set', value: 's' }], add: [{ name: 'x-add', value: 'a' }], remove: ['x-remove'] } },
    { type: 'responseHeaders', modifier: { set: [], add: [], remove: ['server'] } },
    { type: 'rewrite', hostname: 'new.web', path: { kind: 'prefix', value: '/new' } },
    { type: 'mirror', backend: { service: 'shop/web-v2', port: 80, weight: 1, endpoints: [{ ip: '10.200.1.20', port: 8080 }] }, percent: 25 },
  ]);
  assert.deepEqual(f[1]!.backends[0]!.filters, [{ type: 'requestHeaders', modifier: { set: [{ name: 'x-backend', value: 'web' }], add: [], remove: [] } }]);
});

test('faults and rate limits by targetRef: the route\'s over the Service\'s, first by name, same namespace only', () => {
  const w80 = port(table, '10.96.1.10', 80);
  for (const e of w80.routes) {
    const want = e.route === 'shop/b-new' ? { policy: 'shop/slow-b', delay: { ms: 100, percent: 50 } } : { policy: 'shop/web-abort', abort: { status: 503, percent: 10 } };
    assert.deepEqual(e.fault, want, `${e.route}#${e.rule}`);
    assert.deepEqual(e.rateLimit, e.route === 'shop/a-old' ? { policy: 'shop/canary-rl', requestsPerSecond: 10, burst: 10 } : undefined, `${e.route}#${e.rule}`);
  }
  for (const p of [80, 9000, 5432]) assert.deepEqual(port(table, '10.96.1.10', p).rateLimit, { policy: 'shop/web-rl', requestsPerSecond: 100, burst: 200 });
  assert.equal(port(table, '10.96.1.11', 80).rateLimit, undefined);
  assert.equal(port(table, '10.96.1.11', 80).routes[0]!.fault, undefined);
  for (const e of port(table, '10.96.1.13', 50051).routes) assert.deepEqual(e.fault, { policy: 'shop/grpc-both', delay: { ms: 5, percent: 100 }, abort: { status: 500, percent: 1 } });
  const withDefaultFault = compileHttp(clusterView({ faults: [...FAULTS, { namespace: 'shop', name: 'v2', targetRef: { group: '', kind: 'Service', name: 'web-v2' }, abort: { httpStatus: 502, percent: 5 } }] }));
  assert.deepEqual(port(withDefaultFault, '10.96.1.11', 80).routes[0]!.fault, { policy: 'shop/v2', abort: { status: 502, percent: 5 } }, 'the default entry gets the Service fault');
});

test('durations and attempts beyond what the native parser accepts are capped (a day, 100 attempts)', () => {
  const long = httpRoute('long', '', 0, [{ group: '', kind: 'Service', name: 'web-v2' }], [rule([prefix('/')], [backend('web-v2', 80)], {
    timeouts: { requestMs: 99_999 * 3_600_000, backendRequestMs: 90_000_000 }, retry: { attempts: 2 ** 31 - 1, codes: [503], backoffMs: 100_000_000 },
  })]);
  const slow: FaultPolicy = { namespace: 'shop', name: 'slow', targetRef: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'long' }, delay: { fixedDelayMs: 10 ** 12, percent: 1 } };
  const e = port(compileHttp(clusterView({ routes: [long], faults: [slow] })), '10.96.1.11', 80).routes[0]!;
  assert.deepEqual([e.requestTimeoutMs, e.backendTimeoutMs, e.retry, e.fault?.delay], [
    WIRE_MAX_MS, WIRE_MAX_MS, { attempts: WIRE_MAX_ATTEMPTS, codes: [503], backoffMs: WIRE_MAX_MS }, { ms: WIRE_MAX_MS, percent: 1 },
  ]);
  assert.equal(WIRE_MAX_MS, 86_400_000);
});

test('defaults: detection bound, Envoy limits, Linkerd budget and accrual', () => {
  assert.ok(DETECT_TIMEOUT_MS > 0 && DETECT_TIMEOUT_MS <= 300);
  assert.equal(table.detectTimeoutMs, DETECT_TIMEOUT_MS);
  assert.equal(table.defaultProtocol, 'detect');
  assert.deepEqual(table.limits, { maxHeaderBytes: 61440, retryBufferBytes: 65536, maxPendingPerEndpoint: 100 });
  assert.deepEqual(table.retryBudget, { ratio: 0.2, minPerSecond: 10, ttlMs: 10000 });
  assert.deepEqual(table.accrual, { consecutiveFailures: 7, minBackoffMs: 1000, maxBackoffMs: 60000 });
});

test('an empty mesh compiles to ports with the default entry only', () => {
  const t = compileHttp(clusterView({ routes: [], faults: [], rateLimits: [] }));
  assert.ok(t.ports.every((p) => p.routes.length === 1 && p.routes[0]!.kind === 'default' && p.rateLimit === undefined));
  assert.deepEqual(compileHttp({ services: [], serviceByKey: new Map(), routes: [], faults: [], rateLimits: [] }).ports, []);
});

test('a route whose every rule has no match contributes nothing, and the Service serves again', () => {
  const t = compileHttp(clusterView({ routes: [httpRoute('empty', '', 0, [{ group: '', kind: 'Service', name: 'web-v2' }], [rule([], [backend('web', 80)])])] }));
  assert.equal(port(t, '10.96.1.11', 80).routes[0]!.kind, 'default');
  const t2 = compileHttp(clusterView({ routes: [httpRoute('one', '', 0, [{ group: '', kind: 'Service', name: 'web-v2' }], [rule([prefix('/x')], [backend('web', 80)])])] }));
  assert.deepEqual(order(port(t2, '10.96.1.11', 80)), ['shop/one#0']);
});

test('buildNodeView carries routes and typed L7 policies; compileTable carries compileHttp', () => {
  const services = new Map(SERVICES.map((s) => [`${s.namespace}/${s.name}`, s]));
  const cfg: NodeConfig = {
    version: 3, workloads: new Map(), peers: new Map(), services,
    routes: new Map(ROUTES.map((r) => [`${r.kind}/${r.namespace}/${r.name}`, r])),
    policies: new Map([
      ['FaultPolicy/shop/web-abort', { kind: 'FaultPolicy', namespace: 'shop', name: 'web-abort', spec: { targetRef: { kind: 'Service', name: 'web' }, abort: { httpStatus: 503, percentage: 10 } } }],
      ['FaultPolicy/shop/broken', { kind: 'FaultPolicy', namespace: 'shop', name: 'broken', spec: { targetRef: { kind: 'Service', name: 'web' } } }],
      ['RateLimitPolicy/shop/web-rl', { kind: 'RateLimitPolicy', namespace: 'shop', name: 'web-rl', spec: { targetRef: { kind: 'Service', name: 'web' }, requestsPerSecond: 100, burst: 200 } }],
      ['AuthorizationPolicy/shop/x', { kind: 'AuthorizationPolicy', namespace: 'shop', name: 'x', spec: {} }],
    ]),
  };
  const view = buildNodeView(cfg, 'node-a', [], new IndexAllocator());
  assert.equal(view.routes.length, ROUTES.length);
  assert.deepEqual(view.faults.map((f) => f.name), ['web-abort'], 'a policy the converter rejects is skipped');
  assert.deepEqual(view.rateLimits.map((r) => [r.name, r.requestsPerSecond, r.burst]), [['web-rl', 100, 200]]);
  assert.ok(view.serviceByKey.has('shop/headless'));
  assert.ok(!view.services.some((s) => s.name === 'headless'));
  const http = compileHttp(view);
  assert.deepEqual(port(http, '10.96.1.10', 80).rateLimit, { policy: 'shop/web-rl', requestsPerSecond: 100, burst: 200 });
  assert.deepEqual(compileTable(view, 3).http, http);
});

const SEEDS_YAML = `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { nodemesh.io/mesh: enabled } }
${['web', 'web-v2', 'web-feature'].map((name, i) => `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: shop${name === 'web' ? ', annotations: { nodemesh.io/opaque-ports: "5432" }' : ''} }
spec: { clusterIP: 10.96.0.${10 + i}, ports: [{ name: http, port: 80, targetPort: 8080${name === 'web' ? ', appProtocol: http }, { name: db, port: 5432 }' : ' }'}] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: shop, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [{ name: http, port: 8080 }, { name: db, port: 5432 }]
endpoints: [{ addresses: [10.200.1.${10 + i}], conditions: { ready: true }, nodeName: node-a }]
`).join('')}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: seeds, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: web, port: 80 }]
  rules:
  - matches: [{ headers: [{ name: User-Agent, type: RegularExpression, value: ".*iPhone.*" }, { name: x-region, value: es-south }] }]
    backendRefs: [{ name: web, port: 80, weight: 50 }, { name: web-feature, port: 80, weight: 50 }]
  - matches: [{ headers: [{ name: User-Agent, type: RegularExpression, value: ".*iPhone.*" }] }]
    backendRefs: [{ name: web-v2, port: 80 }]
  - backendRefs: [{ name: web, port: 80, weight: 90 }, { name: web-v2, port: 80, weight: 10 }]
    timeouts: { request: 2s }
---
apiVersion: policy.nodemesh.io/v1alpha1
kind: FaultPolicy
metadata: { name: slow, namespace: shop }
spec: { targetRef: { group: gateway.networking.k8s.io, kind: HTTPRoute, name: seeds }, delay: { fixedDelay: 50ms, percentage: 20 } }
`;

test("from manifests: the seeds' canary, iPhone and Southern-Spain routes, with counts", () => {
  const parsed = parseManifests('seeds.yaml', SEEDS_YAML);
  assert.deepEqual(parsed.problems, []);
  const view = buildNodeView(nodeConfigFrom(resourcesFrom(parsed.objects), 'node-a', 'cluster.local'), 'node-a', [], new IndexAllocator());
  const t = compileHttp(view);
  assert.deepEqual(t.ports.map((p) => `${p.service}:${p.port} ${p.protocol} ${p.routes.length}`), [
    'shop/web:80 http1 3', 'shop/web:5432 tcp 1', 'shop/web-feature:80 detect 1', 'shop/web-v2:80 detect 1',
  ]);
  const w = port(t, '10.96.0.10', 80);
  assert.deepEqual(w.routes.map((e) => [e.rule, e.match.headers.length, e.fault?.policy, e.requestTimeoutMs]), [[0, 2, 'shop/slow', 0], [1, 1, 'shop/slow', 0], [2, 0, 'shop/slow', 2000]]);
  assert.deepEqual(w.routes[2]!.backends.map((b) => [b.service, b.weight, b.endpoints]), [['shop/web', 90, [{ ip: '10.200.1.10', port: 8080 }]], ['shop/web-v2', 10, [{ ip: '10.200.1.11', port: 8080 }]]]);
  const n = 2000;
  const count = (headers: Record<string, string>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = route(t, { ip: '10.96.0.10', port: 80 }, { method: 'GET', authority: 'web.shop', path: '/', query: '', headers }, (i + 0.5) / n);
      assert.equal(r.kind, 'forward');
      if (r.kind === 'forward') {
        const svc = w.routes[r.entry]!.backends[r.backend]!.service;
        out[svc] = (out[svc] ?? 0) + 1;
      }
    }
    return out;
  };
  const iphone = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)';
  assert.deepEqual(count({ 'user-agent': 'curl/8.5' }), { 'shop/web': 1800, 'shop/web-v2': 200 }, 'canary: 10 % to v2');
  assert.deepEqual(count({ 'user-agent': iphone }), { 'shop/web-v2': 2000 }, 'iPhone users to v2');
  assert.deepEqual(count({ 'user-agent': iphone, 'x-region': 'es-south' }), { 'shop/web': 1000, 'shop/web-feature': 1000 }, 'iPhone in Southern Spain: half to the feature');
});
