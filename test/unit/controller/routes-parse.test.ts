// What the route parser fills in (controller/src/model/routes.ts): the CRD defaults (default match,
// backendRef group/kind/weight, redirect status, mirror percent, retry), creationTimestamp,
// generation, order and lowercase hostnames; and how both sources treat an invalid route: rejected
// alone, its last valid version kept, the other routes untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_RETRY, parseManifests, type Route } from '../../../controller/src/model/index.js';
import { ManifestSource } from '../../../controller/src/sources/index.js';
import { KubeStore } from '../../../controller/src/sources/kube/store.js';
import { BUILTIN_TYPES } from '../../../controller/src/sources/kube/types.js';

function one(yaml: string): Route {
  const r = parseManifests('r.yaml', yaml);
  assert.deepEqual(r.problems, []);
  const o = r.objects[0]!;
  assert.equal(o.kind, 'Route');
  if (o.kind !== 'Route') throw new Error('not a route');
  return o.value;
}

test('HTTPRoute: every field filled, CRD defaults applied', () => {
  const r = one(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: split, namespace: shop, generation: 4, creationTimestamp: "2026-01-02T03:04:05Z" }
spec:
  parentRefs: [{ kind: Service, name: web, port: 80 }]
  hostnames: [Web.Shop.svc.cluster.local, "*.Example.COM"]
  rules:
    - name: canary
      matches: [{ headers: [{ name: X-Canary, value: "1" }], queryParams: [{ type: RegularExpression, name: v, value: "[0-9]+" }], method: GET }]
      filters:
        - { type: RequestRedirect, requestRedirect: { hostname: Other.Example.com } }
    - backendRefs:
        - { name: web-v2, port: 8080, weight: 0 }
        - name: web
          port: 80
          filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-v, value: "1" }] } }]
      filters:
        - { type: RequestMirror, requestMirror: { backendRef: { name: shadow, port: 80 }, fraction: { numerator: 1, denominator: 8 } } }
      timeouts: { request: 1m30s, backendRequest: 0s }
      retry: { codes: [503] }
`);
  assert.deepEqual(r, {
    kind: 'HTTPRoute', namespace: 'shop', name: 'split', creationTimestamp: '2026-01-02T03:04:05Z', order: 0, generation: 4,
    parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 80 }],
    hostnames: ['web.shop.svc.cluster.local', '*.example.com'],
    rules: [
      {
        name: 'canary',
        matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ type: 'Exact', name: 'X-Canary', value: '1' }], queryParams: [{ type: 'RegularExpression', name: 'v', value: '[0-9]+' }], method: 'GET' }],
        filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'other.example.com', statusCode: 302 } }],
        backendRefs: [],
      },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }],
        filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'shadow', port: 80 }, percent: 12.5 } }],
        backendRefs: [
          { group: '', kind: 'Service', name: 'web-v2', port: 8080, weight: 0, filters: [] },
          { group: '', kind: 'Service', name: 'web', port: 80, weight: 1, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-v', value: '1' }], add: [], remove: [] } }] },
        ],
        timeouts: { requestMs: 90_000 },
        retry: { attempts: DEFAULT_RETRY.attempts, codes: [503], backoffMs: DEFAULT_RETRY.backoffMs },
      },
    ],
  });
  assert.ok(Object.isFrozen(r) && Object.isFrozen(r.rules[1]!.backendRefs[1]!.filters), 'deep-frozen');
});

test('HTTPRoute without rules: the CRD default rule (match everything, no backends); without metadata extras: generation 1, no timestamp', () => {
  const r = one('apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: r }\nspec: { parentRefs: [{ kind: Service, name: web }] }\n');
  assert.equal(r.namespace, 'default');
  assert.equal(r.creationTimestamp, '');
  assert.equal(r.generation, 1);
  assert.deepEqual(r.rules, [{ matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }], filters: [], backendRefs: [] }]);
  assert.deepEqual(r.hostnames, []);
});

test('GRPCRoute: a rule without matches gets { headers: [] }; a method match defaults to Exact; no rules stays none', () => {
  const r = one(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: g, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: greeter, port: 50051 }]
  rules:
    - backendRefs: [{ name: greeter-v2, port: 50051 }]
    - matches: [{ method: { service: helloworld.Greeter } }, { headers: [{ name: x-env, value: a }] }]
`);
  assert.deepEqual(r.rules.map((x) => x.matches), [[{ headers: [] }], [{ method: { type: 'Exact', service: 'helloworld.Greeter' }, headers: [] }, { headers: [{ type: 'Exact', name: 'x-env', value: 'a' }] }]]);
  const none = one('apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: { name: g }\nspec: { parentRefs: [{ kind: Service, name: web }] }\n');
  assert.deepEqual(none.rules, []);
});

test('a retry with nothing set takes our defaults; attempts 0 is kept (no retries)', () => {
  const r = one('apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: r }\nspec: { parentRefs: [{ kind: Service, name: web }], rules: [{ retry: {} }, { retry: { attempts: 0, backoff: 1s } }] }\n');
  assert.deepEqual(r.rules.map((x) => x.retry), [DEFAULT_RETRY, { attempts: 0, codes: DEFAULT_RETRY.codes, backoffMs: 1000 }]);
});

const ROUTE = (name: string, extra = ''): string => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: shop }
spec: { parentRefs: [{ kind: Service, name: web }], rules: [{ backendRefs: [{ name: web, port: 80 }]${extra} }] }
`;

async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(f(), what);
}

test('manifest source: order is the position in the directory; an invalid route is rejected alone and its last valid version stays', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-routes-'));
  try {
    writeFileSync(path.join(dir, 'a.yaml'), ROUTE('zeta') + ROUTE('alpha'));
    writeFileSync(path.join(dir, 'b.yaml'), ROUTE('mid'));
    const src = new ManifestSource(dir);
    const s1 = src.load();
    const order = (res: typeof s1.resources): string[] => [...res.routes.values()].sort((a, b) => a.order - b.order).map((r) => `${r.name}:${r.order}`);
    assert.deepEqual(order(s1.resources), ['zeta:0', 'alpha:1', 'mid:2']);
    src.watch(20);
    try {
      // an invalid edit of zeta: zeta keeps its last valid version, alpha and mid are untouched
      writeFileSync(path.join(dir, 'a.yaml'), ROUTE('zeta', ', timeouts: { request: soon }') + ROUTE('alpha', ', timeouts: { request: 5s }'));
      await until(() => (src.snapshot?.generation ?? 0) > s1.generation, 'the edit to be read');
      const s2 = src.snapshot!;
      assert.deepEqual(s2.problems.map((p) => [p.kind, p.name, p.path]), [['HTTPRoute', 'zeta', 'spec.rules[0].timeouts.request']]);
      // (its order may change: the manifest source re-adds a kept version after the file's valid objects)
      assert.deepEqual({ ...s2.resources.routes.get('HTTPRoute/shop/zeta')!, order: 0 }, s1.resources.routes.get('HTTPRoute/shop/zeta'), 'the last valid zeta stays in force');
      assert.deepEqual(s2.resources.routes.get('HTTPRoute/shop/alpha')!.rules[0]!.timeouts, { requestMs: 5000 });
      assert.ok(s2.resources.routes.has('HTTPRoute/shop/mid'));
    } finally {
      src.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kube store: an invalid route version is a problem, the last valid one stays, the others are untouched; route objects keep their heads and status', () => {
  const store = new KubeStore(BUILTIN_TYPES);
  const http = BUILTIN_TYPES.find((t) => t.kind === 'HTTPRoute')!;
  const obj = (name: string, rv: string, rules: unknown, generation = 1): unknown => ({
    metadata: { name, namespace: 'shop', resourceVersion: rv, generation, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web' }], rules },
    status: { parents: [{ controllerName: 'example.com/other', parentRef: { name: 'gw' }, conditions: [] }] },
  });
  store.replace(http, [obj('a', '1', [{ backendRefs: [{ name: 'web', port: 80 }] }]), obj('b', '2', [])]);
  const v1 = store.build();
  assert.deepEqual([...v1.resources.routes.values()].map((r) => [r.name, r.order, r.creationTimestamp]), [['a', 0, '2026-01-01T00:00:00Z'], ['b', 1, '2026-01-01T00:00:00Z']]);
  store.upsert(http, obj('a', '3', [{ backendRefs: [{ name: 'web' }] }], 2));
  const v2 = store.build();
  assert.deepEqual(v2.problems.map((p) => [p.name, p.path]), [['a', 'spec.rules[0].backendRefs[0].port']]);
  assert.deepEqual(v2.resources.routes.get('HTTPRoute/shop/a'), v1.resources.routes.get('HTTPRoute/shop/a'));
  assert.ok(v2.resources.routes.has('HTTPRoute/shop/b'));
  const heads = store.routes();
  assert.deepEqual(heads.get('HTTPRoute/shop/a')?.head, { kind: 'HTTPRoute', namespace: 'shop', name: 'a', generation: 2, parentRefs: [{ group: '', kind: 'Service', name: 'web' }] });
  assert.equal(heads.get('HTTPRoute/shop/a')?.rv, '3');
  assert.equal((heads.get('HTTPRoute/shop/b')?.parents[0] as { controllerName: string }).controllerName, 'example.com/other');
});
