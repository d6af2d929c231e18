// Validation of Gateway API mesh routes (controller/src/model/routes.ts) as the v1 CRD schemas and
// their CEL rules say: one row per rule, valid and invalid, each invalid row checking the exact field
// path the problem names (the same path the API server would report where it checks the rule).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertObject } from '../../../controller/src/model/index.js';

type Obj = Record<string, unknown>;
const PARENT = { group: '', kind: 'Service', name: 'web', port: 80 };
const BACKEND = { name: 'web', port: 80 };
const route = (spec: Obj, kind = 'HTTPRoute', meta: Obj = {}): Obj => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name: 'r', namespace: 'shop', ...meta }, spec: { parentRefs: [PARENT], ...spec },
});
const rule = (r: Obj, kind = 'HTTPRoute'): Obj => route({ rules: [r] }, kind);
const match = (m: Obj): Obj => rule({ matches: [m], backendRefs: [BACKEND] });
const path = (type: string, value: string): Obj => match({ path: { type, value } });
const filter = (f: Obj, extra: Obj = {}): Obj => rule({ filters: [f], ...extra });
const hdr = (m: Obj): Obj => filter({ type: 'RequestHeaderModifier', requestHeaderModifier: m });
const grpc = (m: Obj): Obj => rule({ matches: [m], backendRefs: [BACKEND] }, 'GRPCRoute');

/** [what, object, expected problem path (undefined: valid)] */
const ROWS: Array<[string, Obj, string | undefined]> = [
  // paths
  ['an Exact path', path('Exact', '/api'), undefined],
  ['a PathPrefix path with RFC 3986 characters and %XX', path('PathPrefix', "/a-b._~!$&'()*+,;=:@/%20"), undefined],
  ['an Exact path without a leading slash', path('Exact', 'api'), 'spec.rules[0].matches[0].path.value'],
  ['a PathPrefix path with //', path('PathPrefix', '/a//b'), 'spec.rules[0].matches[0].path.value'],
  ['a path with /./', path('PathPrefix', '/a/./b'), 'spec.rules[0].matches[0].path.value'],
  ['a path with /../', path('Exact', '/a/../b'), 'spec.rules[0].matches[0].path.value'],
  ['a path with %2f', path('PathPrefix', '/a%2fb'), 'spec.rules[0].matches[0].path.value'],
  ['a path with %2F', path('PathPrefix', '/a%2Fb'), 'spec.rules[0].matches[0].path.value'],
  ['a path with #', path('Exact', '/a#b'), 'spec.rules[0].matches[0].path.value'],
  ['a path ending in /..', path('PathPrefix', '/a/..'), 'spec.rules[0].matches[0].path.value'],
  ['a path ending in /.', path('PathPrefix', '/a/.'), 'spec.rules[0].matches[0].path.value'],
  ['a path with a space', path('Exact', '/a b'), 'spec.rules[0].matches[0].path.value'],
  ['a path with a query', path('Exact', '/a?b=1'), 'spec.rules[0].matches[0].path.value'],
  ['a path over 1024 characters', path('PathPrefix', `/${'a'.repeat(1024)}`), 'spec.rules[0].matches[0].path.value'],
  ['a path match type outside the enum', path('Glob', '/a'), 'spec.rules[0].matches[0].path.type'],
  ['an empty path value', path('Exact', ''), 'spec.rules[0].matches[0].path.value'],
  // regular expressions (valid in JavaScript and in Rust's regex crate, with the same meaning)
  ['a regex path', path('RegularExpression', '/api/v[0-9]+/(users|groups)/.*'), undefined],
  ['a regex with a named group and a bounded repeat', path('RegularExpression', '/(?<id>[a-f0-9]{8,12})'), undefined],
  ['a regex with a lookahead', path('RegularExpression', '/a(?=b)'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with a negative lookbehind', path('RegularExpression', '/(?<!x)a'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with a backreference', path('RegularExpression', '/(a)\\1'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with a named backreference', path('RegularExpression', '/(?<x>a)\\k<x>'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with a possessive quantifier', path('RegularExpression', '/a*+'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with an atomic group', path('RegularExpression', '/(?>a)'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with inline flags', path('RegularExpression', '(?i)/api'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with a Unicode class (\\p means p in JavaScript)', path('RegularExpression', '/\\p{L}'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with \\x{...}', path('RegularExpression', '/\\x{41}'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with \\A', path('RegularExpression', '\\A/api'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with a nested class', path('RegularExpression', '/[[a-z]]'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with a class set operation', path('RegularExpression', '/[a-z&&b]'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with an empty class', path('RegularExpression', '/[]a]'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with an unescaped {', path('RegularExpression', '/a{'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with \\< (a word boundary in Rust, a literal in JavaScript)', path('RegularExpression', '/\\<a'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with \\b{start} (Rust only)', path('RegularExpression', '\\b{start}/a'), 'spec.rules[0].matches[0].path.value'],
  ['a regex JavaScript cannot compile', path('RegularExpression', '/(a'), 'spec.rules[0].matches[0].path.value'],
  ['a regex with escapes both engines read alike', path('RegularExpression', '/\\d+\\.\\w\\s\\x41\\u0042[\\-\\]]'), undefined],
  // header and query parameter matches
  ['header matches', match({ headers: [{ name: 'X-Env', value: 'canary' }, { type: 'RegularExpression', name: 'x-user', value: '[a-z]+' }] }), undefined],
  ['a pseudo-header name', match({ headers: [{ name: ':authority', value: 'a' }] }), 'spec.rules[0].matches[0].headers[0].name'],
  ['a header name with a space', match({ headers: [{ name: 'x env', value: 'a' }] }), 'spec.rules[0].matches[0].headers[0].name'],
  ['two header matches of one name (case-insensitive)', match({ headers: [{ name: 'x-env', value: 'a' }, { name: 'X-Env', value: 'b' }] }), 'spec.rules[0].matches[0].headers[1].name'],
  ['a header match type outside the enum', match({ headers: [{ type: 'Prefix', name: 'x', value: 'a' }] }), 'spec.rules[0].matches[0].headers[0].type'],
  ['an empty header value', match({ headers: [{ name: 'x', value: '' }] }), 'spec.rules[0].matches[0].headers[0].value'],
  ['a header regex with a lookbehind', match({ headers: [{ type: 'RegularExpression', name: 'x', value: '(?<=a)b' }] }), 'spec.rules[0].matches[0].headers[0].value'],
  ['more than 16 header matches', match({ headers: Array.from({ length: 17 }, (_, i) => ({ name: `x-${i}`, value: 'a' })) }), 'spec.rules[0].matches[0].headers'],
  ['query parameters differing in case only', match({ queryParams: [{ name: 'v', value: '1' }, { name: 'V', value: '2' }] }), undefined],
  ['two query parameter matches of one name', match({ queryParams: [{ name: 'v', value: '1' }, { name: 'v', value: '2' }] }), 'spec.rules[0].matches[0].queryParams[1].name'],
  ['a query parameter regex that does not compile', match({ queryParams: [{ type: 'RegularExpression', name: 'v', value: '[' }] }), 'spec.rules[0].matches[0].queryParams[0].value'],
  ['a query parameter value over 1024 characters', match({ queryParams: [{ name: 'v', value: 'a'.repeat(1025) }] }), 'spec.rules[0].matches[0].queryParams[0].value'],
  // methods
  ['every method of the enum', rule({ matches: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'].map((method) => ({ method })) }), undefined],
  ['a lower-case method', match({ method: 'get' }), 'spec.rules[0].matches[0].method'],
  ['a method outside the enum', match({ method: 'FETCH' }), 'spec.rules[0].matches[0].method'],
  // filters
  ['every HTTPRoute filter', rule({ filters: [
    { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-a', value: '1' }], add: [{ name: 'x-b', value: '2' }], remove: ['x-c'] } },
    { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'x-a', value: '1' }] } },
    { type: 'URLRewrite', urlRewrite: { hostname: 'api.example.com', path: { type: 'ReplaceFullPath', replaceFullPath: '/v2' } } },
    { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 }, percent: 10 } },
    { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow2', port: 80 } } },
  ], backendRefs: [BACKEND] }), undefined],
  ['a filter type outside the supported ones', filter({ type: 'CORS', cors: {} }), 'spec.rules[0].filters[0].type'],
  ['an ExtensionRef filter', filter({ type: 'ExtensionRef', extensionRef: { group: 'x.io', kind: 'F', name: 'f' } }), 'spec.rules[0].filters[0].type'],
  ['a RequestHeaderModifier without its field', filter({ type: 'RequestHeaderModifier' }), 'spec.rules[0].filters[0].requestHeaderModifier'],
  ['a filter carrying the field of another type', filter({ type: 'RequestHeaderModifier', requestHeaderModifier: {}, urlRewrite: {} }), 'spec.rules[0].filters[0].urlRewrite'],
  ['two actions on one header name', hdr({ set: [{ name: 'X-A', value: '1' }], remove: ['x-a'] }), 'spec.rules[0].filters[0].requestHeaderModifier.remove[0]'],
  ['a header modifier with an invalid name', hdr({ set: [{ name: 'x a', value: '1' }] }), 'spec.rules[0].filters[0].requestHeaderModifier.set[0].name'],
  ['a header modifier value missing', hdr({ add: [{ name: 'x-a' }] }), 'spec.rules[0].filters[0].requestHeaderModifier.add[0].value'],
  ['two RequestHeaderModifier filters', rule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: {} }, { type: 'RequestHeaderModifier', requestHeaderModifier: {} }] }), 'spec.rules[0].filters[1].type'],
  ['two ResponseHeaderModifier filters', rule({ filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: {} }, { type: 'ResponseHeaderModifier', responseHeaderModifier: {} }] }), 'spec.rules[0].filters[1].type'],
  ['two URLRewrite filters', rule({ filters: [{ type: 'URLRewrite', urlRewrite: {} }, { type: 'URLRewrite', urlRewrite: {} }] }), 'spec.rules[0].filters[1].type'],
  ['RequestRedirect with URLRewrite', rule({ filters: [{ type: 'URLRewrite', urlRewrite: {} }, { type: 'RequestRedirect', requestRedirect: {} }] }), 'spec.rules[0].filters[1].type'],
  ['a redirect with every field', filter({ type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'Example.com', port: 8443, path: { type: 'ReplaceFullPath', replaceFullPath: '/' }, statusCode: 301 } }), undefined],
  ['a redirect status outside the enum', filter({ type: 'RequestRedirect', requestRedirect: { statusCode: 305 } }), 'spec.rules[0].filters[0].requestRedirect.statusCode'],
  ['a redirect scheme outside the enum', filter({ type: 'RequestRedirect', requestRedirect: { scheme: 'ftp' } }), 'spec.rules[0].filters[0].requestRedirect.scheme'],
  ['a redirect to a wildcard hostname', filter({ type: 'RequestRedirect', requestRedirect: { hostname: '*.example.com' } }), 'spec.rules[0].filters[0].requestRedirect.hostname'],
  ['a redirect port of 0', filter({ type: 'RequestRedirect', requestRedirect: { port: 0 } }), 'spec.rules[0].filters[0].requestRedirect.port'],
  ['a redirect with backendRefs', filter({ type: 'RequestRedirect', requestRedirect: {} }, { backendRefs: [BACKEND] }), 'spec.rules[0].filters[0]'],
  ['ReplacePrefixMatch on the default match', filter({ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } }), undefined],
  ['ReplacePrefixMatch on one PathPrefix match', filter({ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '' } } }, { matches: [{ path: { value: '/v1' } }] }), undefined],
  ['ReplacePrefixMatch on an Exact match', filter({ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } }, { matches: [{ path: { type: 'Exact', value: '/v1' } }] }), 'spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch'],
  ['ReplacePrefixMatch on two PathPrefix matches', filter({ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } }, { matches: [{ path: { value: '/a' } }, { path: { value: '/b' } }] }), 'spec.rules[0].filters[0].requestRedirect.path.replacePrefixMatch'],
  ['ReplaceFullPath without its value', filter({ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath' } } }), 'spec.rules[0].filters[0].urlRewrite.path.replaceFullPath'],
  ['a path modifier with the other type\'s value', filter({ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/', replacePrefixMatch: '/' } } }), 'spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch'],
  ['a path modifier type outside the enum', filter({ type: 'URLRewrite', urlRewrite: { path: { type: 'Regex' } } }), 'spec.rules[0].filters[0].urlRewrite.path.type'],
  ['a rewrite to an invalid hostname', filter({ type: 'URLRewrite', urlRewrite: { hostname: 'a_b' } }), 'spec.rules[0].filters[0].urlRewrite.hostname'],
  ['a mirror without a backend', filter({ type: 'RequestMirror', requestMirror: { percent: 5 } }), 'spec.rules[0].filters[0].requestMirror.backendRef'],
  ['a mirror to a Service without a port', filter({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow' } } }), 'spec.rules[0].filters[0].requestMirror.backendRef.port'],
  ['a mirror percent over 100', filter({ type: 'RequestMirror', requestMirror: { backendRef: BACKEND, percent: 101 } }), 'spec.rules[0].filters[0].requestMirror.percent'],
  ['a mirror with percent and fraction', filter({ type: 'RequestMirror', requestMirror: { backendRef: BACKEND, percent: 1, fraction: { numerator: 1 } } }), 'spec.rules[0].filters[0].requestMirror.fraction'],
  ['a mirror fraction over 1', filter({ type: 'RequestMirror', requestMirror: { backendRef: BACKEND, fraction: { numerator: 3, denominator: 2 } } }), 'spec.rules[0].filters[0].requestMirror.fraction'],
  ['a mirror fraction denominator of 0', filter({ type: 'RequestMirror', requestMirror: { backendRef: BACKEND, fraction: { numerator: 0, denominator: 0 } } }), 'spec.rules[0].filters[0].requestMirror.fraction.denominator'],
  // backendRefs
  ['a backend of another kind (resolved later: InvalidKind)', rule({ backendRefs: [{ group: 'example.com', kind: 'Bucket', name: 'b' }] }), undefined],
  ['a Service backend without a port', rule({ backendRefs: [{ name: 'web' }] }), 'spec.rules[0].backendRefs[0].port'],
  ['a backend weight over 1000000', rule({ backendRefs: [{ ...BACKEND, weight: 1_000_001 }] }), 'spec.rules[0].backendRefs[0].weight'],
  ['a backend weight that is not an integer', rule({ backendRefs: [{ ...BACKEND, weight: 1.5 }] }), 'spec.rules[0].backendRefs[0].weight'],
  ['a backend weight of 0 and one of 1000000', rule({ backendRefs: [{ ...BACKEND, weight: 0 }, { name: 'web2', port: 80, weight: 1_000_000 }] }), undefined],
  ['a backend port over 65535', rule({ backendRefs: [{ name: 'web', port: 65536 }] }), 'spec.rules[0].backendRefs[0].port'],
  ['a backend namespace that is not a DNS label', rule({ backendRefs: [{ ...BACKEND, namespace: 'a.b' }] }), 'spec.rules[0].backendRefs[0].namespace'],
  ['a backend kind with a space', rule({ backendRefs: [{ ...BACKEND, kind: 'Ser vice' }] }), 'spec.rules[0].backendRefs[0].kind'],
  ['backend header modifier filters', rule({ backendRefs: [{ ...BACKEND, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-v', value: '2' }] } }, { type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['server'] } }] }] }), undefined],
  ['a backend URLRewrite filter', rule({ backendRefs: [{ ...BACKEND, filters: [{ type: 'URLRewrite', urlRewrite: {} }] }] }), 'spec.rules[0].backendRefs[0].filters[0].type'],
  ['a backend RequestMirror filter', rule({ backendRefs: [{ ...BACKEND, filters: [{ type: 'RequestMirror', requestMirror: { backendRef: BACKEND } }] }] }), 'spec.rules[0].backendRefs[0].filters[0].type'],
  ['more than 16 backends', rule({ backendRefs: Array.from({ length: 17 }, () => BACKEND) }), 'spec.rules[0].backendRefs'],
  // timeouts (GEP-2257 durations)
  ['timeouts in every unit', rule({ timeouts: { request: '1h2m3s4ms', backendRequest: '250ms' } }), undefined],
  ['a request timeout without a unit', rule({ timeouts: { request: '10' } }), 'spec.rules[0].timeouts.request'],
  ['a fractional duration', rule({ timeouts: { request: '1.5s' } }), 'spec.rules[0].timeouts.request'],
  ['a duration with 6 digits', rule({ timeouts: { request: '100000s' } }), 'spec.rules[0].timeouts.request'],
  ['a duration of 5 parts', rule({ timeouts: { request: '1h1m1s1ms1s' } }), 'spec.rules[0].timeouts.request'],
  ['a duration in days', rule({ timeouts: { backendRequest: '1d' } }), 'spec.rules[0].timeouts.backendRequest'],
  ['backendRequest longer than request', rule({ timeouts: { request: '1s', backendRequest: '1001ms' } }), 'spec.rules[0].timeouts.backendRequest'],
  ['backendRequest with request 0s (none)', rule({ timeouts: { request: '0s', backendRequest: '5m' } }), undefined],
  ['backendRequest 0s under a request timeout (the CRD compares 0s as zero)', rule({ timeouts: { request: '10s', backendRequest: '0s' } }), undefined],
  // retry
  ['a retry', rule({ retry: { attempts: 3, codes: [500, 503, 429], backoff: '50ms' } }), undefined],
  ['retry attempts below 0', rule({ retry: { attempts: -1 } }), 'spec.rules[0].retry.attempts'],
  ['a retry code below 400', rule({ retry: { codes: [500, 399] } }), 'spec.rules[0].retry.codes[1]'],
  ['a retry code over 599', rule({ retry: { codes: [600] } }), 'spec.rules[0].retry.codes[0]'],
  ['a retry backoff that is not a duration', rule({ retry: { backoff: '1x' } }), 'spec.rules[0].retry.backoff'],
  // GRPCRoute
  ['a gRPC service and method match', grpc({ method: { service: 'helloworld.Greeter', method: 'SayHello' }, headers: [{ name: 'x-env', value: 'a' }] }), undefined],
  ['a gRPC service-only match', grpc({ method: { type: 'Exact', service: '.pkg.v1.Svc' } }), undefined],
  ['a gRPC method-only match', grpc({ method: { method: 'Watch' } }), undefined],
  ['a gRPC regex match', grpc({ method: { type: 'RegularExpression', service: 'pkg\\.v[0-9]+\\..*', method: 'Get.*' } }), undefined],
  ['a gRPC Exact match naming neither', grpc({ method: { type: 'Exact' } }), 'spec.rules[0].matches[0].method'],
  ['a gRPC service name with a space', grpc({ method: { service: 'hello world' } }), 'spec.rules[0].matches[0].method.service'],
  ['a gRPC method name starting with a digit', grpc({ method: { method: '1Get' } }), 'spec.rules[0].matches[0].method.method'],
  ['a gRPC regex with a lookahead', grpc({ method: { type: 'RegularExpression', service: '(?=a)a' } }), 'spec.rules[0].matches[0].method.service'],
  ['a gRPC method type outside the enum', grpc({ method: { type: 'Prefix', service: 'a' } }), 'spec.rules[0].matches[0].method.type'],
  ['a gRPC header match of a duplicate name', grpc({ headers: [{ name: 'a', value: '1' }, { name: 'A', value: '2' }] }), 'spec.rules[0].matches[0].headers[1].name'],
  ['a GRPCRoute URLRewrite filter', rule({ filters: [{ type: 'URLRewrite', urlRewrite: {} }] }, 'GRPCRoute'), 'spec.rules[0].filters[0].type'],
  ['a GRPCRoute RequestRedirect filter', rule({ filters: [{ type: 'RequestRedirect', requestRedirect: {} }] }, 'GRPCRoute'), 'spec.rules[0].filters[0].type'],
  ['GRPCRoute timeouts (not in v1)', rule({ timeouts: { request: '1s' } }, 'GRPCRoute'), 'spec.rules[0].timeouts'],
  // route level
  ['hostnames, a wildcard and upper case', route({ hostnames: ['*.Example.com', 'web.shop.svc.cluster.local'] }), undefined],
  ['a hostname with an underscore', route({ hostnames: ['a_b.example.com'] }), 'spec.hostnames[0]'],
  ['a bare * hostname', route({ hostnames: ['*'] }), 'spec.hostnames[0]'],
  ['more than 16 hostnames', route({ hostnames: Array.from({ length: 17 }, (_, i) => `h${i}.example.com`) }), 'spec.hostnames'],
  ['no parentRefs', route({ parentRefs: [] }), 'spec.parentRefs'],
  ['a parentRef without a name', route({ parentRefs: [{ kind: 'Service' }] }), 'spec.parentRefs[0].name'],
  ['a parentRef port of 0', route({ parentRefs: [{ ...PARENT, port: 0 }] }), 'spec.parentRefs[0].port'],
  ['more than 16 rules', route({ rules: Array.from({ length: 17 }, () => ({})) }), 'spec.rules'],
  ['more than 64 matches in a rule', rule({ matches: Array.from({ length: 65 }, () => ({})) }), 'spec.rules[0].matches'],
  ['more than 128 matches in a route', route({ rules: Array.from({ length: 3 }, () => ({ matches: Array.from({ length: 44 }, () => ({})) })) }), 'spec.rules'],
  ['two rules of one name', route({ rules: [{ name: 'a' }, { name: 'a' }] }), 'spec.rules[1].name'],
  ['a rule name with upper case', route({ rules: [{ name: 'A' }] }), 'spec.rules[0].name'],
  ['a generation of 0', route({}, 'HTTPRoute', { generation: 0 }), 'metadata.generation'],
];

for (const [what, o, want] of ROWS) {
  test(`${want ? 'rejects' : 'accepts'} ${what}${want ? ` at ${want}` : ''}`, () => {
    const r = convertObject(o, 'routes.yaml', 'document[0]');
    if (want === undefined) {
      assert.ok('object' in r, `rejected: ${'problem' in r ? `${r.problem.path}: ${r.problem.message}` : 'ignored'}`);
    } else {
      assert.ok('problem' in r, 'accepted');
      assert.equal(r.problem.path, want, r.problem.message);
      assert.equal(r.problem.kind, o.kind);
      assert.equal(r.problem.name, 'r');
      assert.ok(r.problem.message.length > 10, 'the message says what is wrong');
    }
  });
}
