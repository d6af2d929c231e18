// The Gateway API mesh conformance scenarios (conformance/tests/mesh: matching, query parameters,
// rewrite, header modifiers, redirects, ports, weights, consumer routes) written as manifests and
// taken through parser, node config, view, compileHttp and route(), with the suite's expectations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHttp, route, type TableHttp } from '../../../agent/src/routing/index.js';
import { IndexAllocator, buildNodeView } from '../../../agent/src/state/index.js';
import { parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';
import { nodeConfigFrom } from '../../../controller/src/views/index.js';

const NS = 'mesh';
const ECHO = { ip: '10.96.0.10', port: 80 };
const BASE = [
  `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${NS}, labels: { nodemesh.io/mesh: enabled } }\n`,
  `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${NS}-consumer, labels: { nodemesh.io/mesh: enabled } }\n`,
  ...['echo', 'echo-v1', 'echo-v2'].flatMap((name, i) => [
    `apiVersion: v1\nkind: Service\nmetadata: { name: ${name}, namespace: ${NS} }\nspec: { clusterIP: 10.96.0.${10 + i}, ports: [{ name: http, port: 80, targetPort: 8080 }, { name: alt, port: 8080, targetPort: 8080 }] }\n`,
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: ${name}-1, namespace: ${NS}, labels: { kubernetes.io/service-name: ${name} } }\naddressType: IPv4\nports: [{ name: http, port: 8080 }, { name: alt, port: 8080 }]\nendpoints: [{ addresses: [10.200.1.${10 + i}], conditions: { ready: true }, nodeName: node-a }]\n`,
  ]),
];
const httpRoute = (name: string, parent: string, rules: string, namespace = NS) =>
  `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: ${name}, namespace: ${namespace} }\nspec:\n  parentRefs: [${parent}]\n  rules:\n${rules}`;

function compile(...routes: string[]): TableHttp {
  const parsed = parseManifests('mesh.yaml', [...BASE, ...routes].join('---\n'));
  assert.deepEqual(parsed.problems, []);
  return compileHttp(buildNodeView(nodeConfigFrom(resourcesFrom(parsed.objects), 'node-a', 'cluster.local'), 'node-a', [], new IndexAllocator()));
}

interface Sent { backend?: string; status?: number; location?: string; path?: string; headers?: Record<string, string> }
function send(t: TableHttp, target: string, headers: Record<string, string> = {}, dst = ECHO, u = 0, client?: string): Sent {
  const [path, query = ''] = target.split('?') as [string, string?];
  const r = route(t, dst, { method: 'GET', authority: dst.port === 80 ? 'echo' : `echo:${dst.port}`, path, query, headers }, u, client);
  if (r.kind === 'respond') return { status: r.status, ...(r.location ? { location: r.location } : {}) };
  const port = t.ports.find((p) => p.vip === dst.ip && p.port === dst.port)!;
  const entries = port.consumers?.find((c) => c.namespace === client)?.routes ?? port.routes;
  return { backend: entries[r.entry]!.backends[r.backend]!.service.split('/')[1]!, path: r.path, headers: Object.fromEntries(r.headers) };
}
const backendOf = (t: TableHttp, target: string, headers: Record<string, string> = {}) => {
  const s = send(t, target, headers);
  return s.backend ?? s.status;
};

test('MeshHTTPRouteMatching: longest prefix, a header match over the bare prefix', () => {
  const t = compile(httpRoute('matching', '{ group: "", kind: Service, name: echo, port: 80 }', `
  - matches: [{ path: { type: PathPrefix, value: / } }, { headers: [{ name: version, value: one }] }]
    backendRefs: [{ name: echo-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /v2 } }, { headers: [{ name: version, value: two }] }]
    backendRefs: [{ name: echo-v2, port: 8080 }]
`));
  const rows: [string, Record<string, string>, string][] = [
    ['/', {}, 'echo-v1'], ['/example', {}, 'echo-v1'], ['/', { version: 'one' }, 'echo-v1'], ['/v2', {}, 'echo-v2'], ['/v2/example', {}, 'echo-v2'],
    ['/', { version: 'two' }, 'echo-v2'], ['/v2/', {}, 'echo-v2'], ['/v2example', {}, 'echo-v1'], ['/foo/v2/example', {}, 'echo-v1'],
  ];
  for (const [p, h, want] of rows) assert.equal(backendOf(t, p, h), want, `${p} ${JSON.stringify(h)}`);
});

test('MeshHTTPRouteQueryParamMatching: matches, precedence, and 404 for what no rule matches', () => {
  const t = compile(httpRoute('query', '{ group: "", kind: Service, name: echo, port: 80 }', `
  - matches: [{ queryParams: [{ name: animal, value: whale }] }]
    backendRefs: [{ name: echo-v1, port: 8080 }]
  - matches: [{ queryParams: [{ name: animal, value: dolphin }] }]
    backendRefs: [{ name: echo-v2, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path1 }, queryParams: [{ name: animal, value: whale }] }]
    backendRefs: [{ name: echo-v1, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: one }], queryParams: [{ name: animal, value: whale }] }]
    backendRefs: [{ name: echo-v2, port: 8080 }]
  - matches:
    - { path: { type: PathPrefix, value: /path3 }, queryParams: [{ name: animal, value: shark }] }
    - { path: { type: PathPrefix, value: /path4 }, headers: [{ name: version, value: three }], queryParams: [{ name: animal, value: kraken }] }
    backendRefs: [{ name: echo-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path5 } }]
    backendRefs: [{ name: echo-v1, port: 8080 }]
  - matches: [{ queryParams: [{ name: animal, value: hydra }] }]
    backendRefs: [{ name: echo-v2, port: 8080 }]
`));
  const rows: [string, Record<string, string>, string | number][] = [
    ['/?animal=whale', {}, 'echo-v1'], ['/?animal=dolphin', {}, 'echo-v2'], ['/?animal=whale&otherparam=irrelevant', {}, 'echo-v1'],
    ['/?animal=dolphin&color=yellow', {}, 'echo-v2'], ['/?color=blue', {}, 404], ['/?animal=dog', {}, 404], ['/?animal=whaledolphin', {}, 404], ['/', {}, 404],
    ['/path1?animal=whale', {}, 'echo-v1'], ['/?animal=whale', { version: 'one' }, 'echo-v2'], ['/path3?animal=shark', {}, 'echo-v1'],
    ['/path4?animal=kraken', { version: 'three' }, 'echo-v1'], ['/?animal=shark', {}, 404], ['/path4?animal=kraken', {}, 404], ['/path5?animal=hydra', {}, 'echo-v1'],
  ];
  for (const [p, h, want] of rows) assert.equal(backendOf(t, p, h), want, `${p} ${JSON.stringify(h)}`);
});

test('MeshHTTPRouteRewritePath and RequestHeaderModifier: prefix, strip, full path, headers', () => {
  const mods = `
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set: [{ name: X-Header-Set, value: set-overwrites-values }]
          add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }]
          remove: [X-Header-Remove]`;
  const t = compile(httpRoute('rewrite', '{ group: "", kind: Service, name: echo, port: 80 }', `
  - matches: [{ path: { type: PathPrefix, value: /prefix/one } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /one } } }]
    backendRefs: [{ name: echo-v1, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /strip-prefix } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: / } } }]
    backendRefs: [{ name: echo-v1, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /full/one } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplaceFullPath, replaceFullPath: /one } } }]
    backendRefs: [{ name: echo-v1, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /full/rewrite-path-and-modify-headers } }]
    filters:
      - { type: URLRewrite, urlRewrite: { path: { type: ReplaceFullPath, replaceFullPath: /test } } }${mods}
    backendRefs: [{ name: echo-v1, port: 80 }]
  - matches: [{ path: { type: PathPrefix, value: /prefix/rewrite-path-and-modify-headers } }]
    filters:
      - { type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /prefix } } }${mods}
    backendRefs: [{ name: echo-v1, port: 80 }]
`));
  assert.deepEqual(send(t, '/prefix/one/two'), { backend: 'echo-v1', path: '/one/two', headers: {} });
  assert.deepEqual(send(t, '/strip-prefix/three').path, '/three');
  assert.deepEqual(send(t, '/strip-prefix').path, '/');
  assert.deepEqual(send(t, '/full/one/two').path, '/one');
  const given = { 'x-header-remove': 'remove-val', 'x-header-add-append': 'append-val-1', 'x-header-set': 'set-val' };
  const want = { 'x-header-add': 'header-val-1', 'x-header-add-append': 'append-val-1,header-val-2', 'x-header-set': 'set-overwrites-values' };
  assert.deepEqual(send(t, '/full/rewrite-path-and-modify-headers/test', given), { backend: 'echo-v1', path: '/test', headers: want });
  assert.deepEqual(send(t, '/prefix/rewrite-path-and-modify-headers/one', given), { backend: 'echo-v1', path: '/prefix/one', headers: want });
});

test('MeshHTTPRouteRedirect*: path, port, scheme, hostname and status codes in Location', () => {
  const redirect = (value: string, r: string) => `  - matches: [{ path: { type: PathPrefix, value: ${value} } }]\n    filters: [{ type: RequestRedirect, requestRedirect: ${r} }]\n`;
  const t = compile(httpRoute('redirect', '{ group: "", kind: Service, name: echo, port: 80 }', [
    redirect('/original-prefix', '{ path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } }'),
    redirect('/full', '{ path: { type: ReplaceFullPath, replaceFullPath: /full-path-replacement } }'),
    redirect('/path-and-host', '{ hostname: example.org, path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } }'),
    redirect('/full-path-and-status', '{ path: { type: ReplaceFullPath, replaceFullPath: /replacement-full }, statusCode: 301 }'),
    redirect('/port-and-host', '{ hostname: example.org, port: 8083 }'),
    redirect('/port', '{ port: 8083 }'),
    redirect('/scheme-and-host', '{ hostname: example.org, scheme: https }'),
    redirect('/scheme', '{ scheme: https, statusCode: 301 }'),
    redirect('/status-307', '{ statusCode: 307 }'),
    redirect('/status-308', '{ statusCode: 308 }'),
    redirect('/status-303', '{ statusCode: 303 }'),
  ].join('')));
  const rows: [string, number, string][] = [
    ['/original-prefix/lemon', 302, 'http://echo/replacement-prefix/lemon'], ['/full/path/original', 302, 'http://echo/full-path-replacement'],
    ['/path-and-host', 302, 'http://example.org/replacement-prefix'], ['/full-path-and-status', 301, 'http://echo/replacement-full'],
    ['/port-and-host', 302, 'http://example.org:8083/port-and-host'], ['/port', 302, 'http://echo:8083/port'],
    ['/scheme-and-host', 302, 'https://example.org/scheme-and-host'], ['/scheme', 301, 'https://echo/scheme'],
    ['/status-307', 307, 'http://echo/status-307'], ['/status-308', 308, 'http://echo/status-308'], ['/status-303?a=b', 303, 'http://echo/status-303?a=b'],
  ];
  for (const [p, status, location] of rows) assert.deepEqual(send(t, p), { status, location }, p);
});

test('MeshPorts: a parentRef port limits the route to that port, none covers every port', () => {
  const t = compile(
    httpRoute('v1', '{ group: "", kind: Service, name: echo-v1, port: 80 }', '  - filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-route, value: v1 }] } }]\n    backendRefs: [{ name: echo-v1, port: 80 }]\n'),
    httpRoute('v2', '{ group: "", kind: Service, name: echo-v2 }', '  - filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-route, value: v2 }] } }]\n    backendRefs: [{ name: echo-v2, port: 80 }]\n'),
  );
  const at = (ip: string, port: number) => send(t, '/', {}, { ip, port });
  assert.deepEqual(at('10.96.0.11', 80).headers, { 'x-route': 'v1' });
  assert.deepEqual(at('10.96.0.11', 8080), { backend: 'echo-v1', path: '/', headers: {} }, 'the excluded port: the Service itself');
  assert.deepEqual(at('10.96.0.12', 80).headers, { 'x-route': 'v2' });
  assert.deepEqual(at('10.96.0.12', 8080).headers, { 'x-route': 'v2' });
});

test('MeshHTTPRouteWeight / MeshTrafficSplit: 70/30 and 0 weights over evenly spread draws', () => {
  const t = compile(httpRoute('weights', '{ group: "", kind: Service, name: echo, port: 80 }', `
  - backendRefs: [{ name: echo-v1, port: 80, weight: 70 }, { name: echo-v2, port: 80, weight: 30 }, { name: echo, port: 80, weight: 0 }]
`));
  const counts: Record<string, number> = {};
  for (let i = 0; i < 1000; i++) {
    const b = send(t, '/', {}, ECHO, (i + 0.5) / 1000).backend!;
    counts[b] = (counts[b] ?? 0) + 1;
  }
  assert.deepEqual(counts, { 'echo-v1': 700, 'echo-v2': 300 });
});

test('MeshConsumerRoute: a route in another namespace changes only its own namespace\'s requests', () => {
  const t = compile(httpRoute('consumer-header', `{ group: "", kind: Service, name: echo-v1, namespace: ${NS} }`,
    `  - filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-header-set, value: set }] } }]\n    backendRefs: [{ name: echo-v1, namespace: ${NS}, port: 80 }]\n`, `${NS}-consumer`));
  const v1 = { ip: '10.96.0.11', port: 80 };
  assert.deepEqual(send(t, '/', {}, v1, 0, `${NS}-consumer`), { backend: 'echo-v1', path: '/', headers: { 'x-header-set': 'set' } });
  assert.deepEqual(send(t, '/', {}, v1, 0, NS), { backend: 'echo-v1', path: '/', headers: {} });
  assert.deepEqual(send(t, '/', {}, v1), { backend: 'echo-v1', path: '/', headers: {} }, 'an unknown client namespace: producer routes');
});
