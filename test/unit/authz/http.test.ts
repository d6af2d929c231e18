// The HTTP half of authorization, table-driven: value wildcards, path normalization, hosts,
// per-field operation matching, needsHttp (recomputed for every fixture workload and asked per
// port), the 403 / gRPC PERMISSION_DENIED answer, and L7 rules at L4 for each action.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, denyResponse, grpcMessage, hostOf, httpMatches, needsHttp, normalizePath, valueMatches, workloadNeedsHttp, type AuthzHttpRequest, type TableAuthz, type TableAuthzHttp } from '../../../agent/src/authz/index.js';
import { cases } from './cluster.js';

const { tables } = cases();
const req = (method: string, path: string, headers: Record<string, string> = {}, authority = 'web'): AuthzHttpRequest => ({ method, path, headers, authority });

test('valueMatches: "*", prefix, suffix, exact', () => {
  const rows: [string, string, boolean][] = [
    ['*', '', true], ['*', 'x', true],
    ['/api/*', '/api/', true], ['/api/*', '/api/x/y', true], ['/api/*', '/api', false], ['/api/*', '/apix', false],
    ['*.css', '/a/b.css', true], ['*.css', '/a/b.cssx', false], ['*.css', '.css', true],
    ['/x', '/x', true], ['/x', '/x/', false], ['/x', '/X', false],
    ['es-*', 'es-', true], ['*iPhone', 'iPhone', true], ['*iPhone', 'iPhone OS', false],
  ];
  for (const [p, v, want] of rows) assert.equal(valueMatches(p, v), want, `${p} ~ ${JSON.stringify(v)}`);
});

test('normalizePath: unreserved escapes decoded, others uppercased, dot segments removed (RFC 3986)', () => {
  const rows: [string, string][] = [
    ['/', '/'], ['/a/b', '/a/b'], ['/a/./b', '/a/b'], ['/a/b/../c', '/a/c'], ['/a/b/..', '/a/'], ['/a/b/.', '/a/b/'],
    ['/..', '/'], ['/../../x', '/x'], ['/a//../b', '/a/b'], ['/a//b', '/a//b'],
    ['/%61dmin', '/admin'], ['/%7e%2D%5F', '/~-_'], ['/a%2fb', '/a%2Fb'], ['/a%2Fb', '/a%2Fb'], ['/%2e%2e/x', '/x'], ['/%2E/x', '/x'],
    // a '%' starting no escape is escaped itself, so decoding never forms a new escape (cargo fuzz found "%%33")
    ['/a%zz', '/a%25zz'], ['/a%4', '/a%254'], ['/%', '/%25'], ['/%%33', '/%253'], ['/%%2e%2e/x', '/%25../x'],
    ['/caf%C3%A9', '/caf%C3%A9'], ['/a/..%2f', '/a/..%2F'],
    ['*', '*'], ['', ''],
  ];
  for (const [inp, want] of rows) {
    assert.equal(normalizePath(inp), want, inp);
    assert.equal(normalizePath(want), want, `idempotent on ${inp}`);
  }
});

test('hostOf: lowercase, port stripped, IPv6 brackets kept', () => {
  const rows: [string, string][] = [['Web.Shop:8080', 'web.shop'], ['web', 'web'], ['[::1]:80', '[::1]'], ['[::1]', '[::1]'], ['10.0.0.1:80', '10.0.0.1'], ['', '']];
  for (const [a, want] of rows) assert.equal(hostOf(a), want, a);
});

test('httpMatches: each field alone and in combination', () => {
  const rows: [TableAuthzHttp, AuthzHttpRequest, boolean][] = [
    [{}, req('GET', '/'), true],
    [{ methods: ['GET', 'HEAD'] }, req('HEAD', '/'), true],
    [{ methods: ['GET'] }, req('POST', '/'), false],
    [{ notMethods: ['POST'] }, req('GET', '/'), true],
    [{ notMethods: ['POST'] }, req('POST', '/'), false],
    [{ paths: ['/a', '/b/*'] }, req('GET', '/b/c'), true],
    [{ paths: ['/a'] }, req('GET', '/a/'), false],
    [{ notPaths: ['*.php'] }, req('GET', '/x.php'), false],
    [{ notPaths: ['*.php'] }, req('GET', '/x.phpx'), true],
    [{ paths: ['/admin/*'] }, req('GET', '/x/../admin/y'), true],
    [{ hosts: ['web'] }, req('GET', '/', {}, 'WEB:80'), true],
    [{ hosts: ['*.shop'] }, req('GET', '/', {}, 'web.shop'), true],
    [{ notHosts: ['web'] }, req('GET', '/', {}, 'web:1'), false],
    [{ headers: [{ name: 'x-a', values: ['1', '2*'] }] }, req('GET', '/', { 'x-a': '25' }), true],
    [{ headers: [{ name: 'x-a', values: ['1'] }] }, req('GET', '/', { 'x-a': '10' }), false],
    [{ headers: [{ name: 'x-a', values: ['*'] }, { name: 'x-b', values: ['*'] }] }, req('GET', '/', { 'x-a': '' }), false],
    [{ methods: ['GET'], paths: ['/a'], hosts: ['web'], headers: [{ name: 'x-a', values: ['1'] }] }, req('GET', '/a', { 'x-a': '1' }), true],
    [{ methods: ['GET'], paths: ['/a'], hosts: ['web'], headers: [{ name: 'x-a', values: ['1'] }] }, req('GET', '/a', { 'x-a': '1' }, 'api'), false],
  ];
  rows.forEach(([h, r, want], k) => assert.equal(httpMatches(h, r), want, `row ${k}: ${JSON.stringify(h)} ~ ${JSON.stringify(r)}`));
});

test('needsHttp of every fixture workload is what its policies need; asked per port', () => {
  for (const t of tables) {
    for (const w of t.table.workloads) assert.deepEqual(workloadNeedsHttp(t.table, w.policies), w.needsHttp ?? false, `[${t.name}] ${w.ip}`);
  }
  const http = tables.find((t) => t.name === 'http')!.table;
  const rows: [string, number, boolean][] = [['10.1.0.1', 1, true], ['10.1.0.7', 8080, true], ['10.1.0.7', 8081, false], ['10.1.0.9', 9000, true], ['10.1.0.13', 80, false], ['10.9.9.9', 80, false]];
  for (const [ip, port, want] of rows) assert.equal(needsHttp(http, ip, port), want, `${ip}:${port}`);
  const absent: TableAuthz = { ...http, workloads: http.workloads.map(({ needsHttp: _, ...w }) => w) };
  assert.equal(needsHttp(absent, '10.1.0.1', 80), false, 'absent needsHttp is false');
});

test('L7 rules at L4, for each action: ALLOW and AUDIT never match, DENY matches on its other fields', () => {
  const rule = { from: [{ namespaces: ['a'] }], ports: [80], l7: true, http: { methods: ['GET'] } };
  const table = (action: 'ALLOW' | 'DENY' | 'AUDIT'): TableAuthz => ({
    trustDomain: 'td',
    workloads: [{ ip: '10.0.0.1', mode: 'PERMISSIVE', modePolicy: '', portModes: [], defaultPolicy: 'all-unauthenticated', policies: [0], needsHttp: [80] }],
    policies: [{ name: `n/${action}`, action, rules: [rule] }],
  });
  const i = (port: number, ns: string) => ({ dstIp: '10.0.0.1', dstPort: port, srcIp: '10.0.0.2', identity: `spiffe://td/ns/${ns}/sa/s`, transport: 'mtls' as const });
  const rows: ['ALLOW' | 'DENY' | 'AUDIT', number, string, AuthzHttpRequest | undefined, { allow: boolean; policy: string; audit: string }][] = [
    ['ALLOW', 80, 'a', undefined, { allow: false, policy: 'n/ALLOW', audit: '' }],
    ['ALLOW', 80, 'a', req('GET', '/'), { allow: true, policy: 'n/ALLOW', audit: '' }],
    ['ALLOW', 80, 'a', req('PUT', '/'), { allow: false, policy: 'n/ALLOW', audit: '' }],
    ['DENY', 80, 'a', undefined, { allow: false, policy: 'n/DENY', audit: '' }],
    ['DENY', 81, 'a', undefined, { allow: true, policy: 'default:all-unauthenticated', audit: '' }],
    ['DENY', 80, 'b', undefined, { allow: true, policy: 'default:all-unauthenticated', audit: '' }],
    ['DENY', 80, 'a', req('GET', '/'), { allow: false, policy: 'n/DENY', audit: '' }],
    ['DENY', 80, 'a', req('PUT', '/'), { allow: true, policy: 'default:all-unauthenticated', audit: '' }],
    ['AUDIT', 80, 'a', undefined, { allow: true, policy: 'default:all-unauthenticated', audit: '' }],
    ['AUDIT', 80, 'a', req('GET', '/'), { allow: true, policy: 'default:all-unauthenticated', audit: 'n/AUDIT' }],
  ];
  for (const [action, port, ns, http, want] of rows) {
    const v = authorize(table(action), i(port, ns), http);
    assert.deepEqual({ allow: v.allow, policy: v.policy, audit: v.audit }, want, `${action} :${port} ${ns} ${http ? http.method : 'TCP'}`);
  }
});

test('denyResponse: 403 with the code for HTTP, trailers-only grpc-status 7 for gRPC; no policy name', () => {
  const denied = { allow: false, code: 'MESH_ERR_AUTHZ_DENIED', policy: 'shop/secret-policy', audit: '' } as const;
  const h = denyResponse(denied, { headers: {} });
  assert.equal(h.status, 403);
  assert.deepEqual(h.headers, [['content-type', 'text/plain; charset=utf-8'], ['x-nodemesh-error', 'MESH_ERR_AUTHZ_DENIED']]);
  assert.match(h.body, /^MESH_ERR_AUTHZ_DENIED: .*AuthorizationPolicy\n$/);
  for (const ct of ['application/grpc', 'application/grpc+proto', 'application/grpc-web']) {
    const g = denyResponse(denied, { headers: { 'content-type': ct } });
    assert.equal(g.status, 200, ct);
    assert.deepEqual(g.headers.slice(0, 2), [['content-type', 'application/grpc'], ['grpc-status', '7']]);
    assert.match(g.headers[2]![1], /^MESH_ERR_AUTHZ_DENIED: /);
    assert.equal(g.body, '');
  }
  const m = denyResponse({ ...denied, code: 'MESH_ERR_MTLS_REQUIRED' }, { headers: { 'content-type': 'text/html' } });
  assert.equal(m.status, 403);
  assert.match(m.body, /^MESH_ERR_MTLS_REQUIRED: .*mutual TLS/);
  for (const r of [h, m, denyResponse(denied, { headers: { 'content-type': 'application/grpc' } })]) assert.ok(!JSON.stringify(r).includes('secret-policy'));
  assert.equal(grpcMessage('a b%c\n\u00e9'), 'a b%25c%0A%C3%A9');
});
