// Table-driven tests of route(): every row of test/fixtures/routes/cases.json (the rows native
// matching must satisfy too), plus pickBackend, authority parsing, query parsing and path helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostOf, hostnameMatches, modifyPath, pathMatches, pickBackend, queryParams, route } from '../../../agent/src/routing/index.js';
import { cases, tableOf } from './cluster.js';

const c = cases();

test('cases.json: the shared tables, enough rows, unique names, every respond case', () => {
  assert.deepEqual(Object.keys(c.tables).sort(), ['compiled', 'semantics']);
  assert.ok(c.rows.length >= 60, `${c.rows.length} rows`);
  assert.equal(new Set(c.rows.map((r) => r.name)).size, c.rows.length, 'row names are unique');
  const outcomes = new Set(c.rows.map((r) => (r.expect.kind === 'forward' ? 'forward' : `${r.expect.status}`)));
  for (const s of ['forward', '301', '302', '303', '307', '308', '404', '500', '503']) assert.ok(outcomes.has(s), `a row answering ${s}`);
});

for (const r of c.rows) {
  test(`route: ${r.name}`, () => {
    assert.deepEqual(route(tableOf(c, r), r.dst, r.head, r.u, r.clientNamespace), r.expect);
  });
}

test('route is pure: the same row gives the same result and the table is untouched', () => {
  const before = JSON.stringify(c.tables);
  for (const r of c.rows) assert.deepEqual(route(tableOf(c, r), r.dst, r.head, r.u), route(tableOf(c, r), r.dst, r.head, r.u));
  assert.equal(JSON.stringify(c.tables), before);
});

test('pickBackend: cumulative weights, zero weights skipped, -1 without a positive weight', () => {
  const w = (...ws: number[]) => ws.map((weight) => ({ weight }));
  const rows: [number[], number, number][] = [
    [[1], 0, 0], [[1], 0.999999, 0],
    [[90, 10], 0, 0], [[90, 10], 0.89, 0], [[90, 10], 0.9, 1], [[90, 10], 0.9999, 1],
    [[0, 5], 0, 1], [[5, 0], 0.99, 0], [[0, 1, 0, 1], 0.5, 3], [[0, 1, 0, 1], 0.49, 1],
    [[1, 1, 1, 1], 0.25, 1], [[1, 1, 1, 1], 0.7499, 2],
    [[1_000_000, 1], 0.999999, 0], [[1_000_000, 1], 0.9999995, 1],
    [[], 0.5, -1], [[0, 0], 0.5, -1],
    [[3, 1], -1, 0], [[3, 1], 1, 1], [[3, 1], 5, 1],
  ];
  for (const [ws, u, want] of rows) assert.equal(pickBackend(w(...ws), u), want, `weights ${ws} u=${u}`);
});

test('pickBackend spreads uniform draws by weight', () => {
  const counts = [0, 0, 0];
  const n = 10_000;
  for (let i = 0; i < n; i++) counts[pickBackend([{ weight: 10 }, { weight: 0 }, { weight: 90 }], (i + 0.5) / n)]! += 1;
  assert.deepEqual(counts, [1000, 0, 9000]);
});

test('hostOf: lowercase, port removed, IPv6 brackets kept', () => {
  const rows: [string, string][] = [
    ['Web.Shop', 'web.shop'], ['web:8080', 'web'], ['web:', 'web'], ['10.96.0.1:80', '10.96.0.1'], ['[FD00::1]:443', '[fd00::1]'],
    ['[fd00::1]', '[fd00::1]'], ['web.example.com', 'web.example.com'], ['', ''], ['a:b', 'a:b'],
  ];
  for (const [a, want] of rows) assert.equal(hostOf(a), want, a);
});

test('hostnameMatches: exact, wildcard over one or more labels, never the bare suffix', () => {
  assert.ok(hostnameMatches([], 'anything'));
  assert.ok(hostnameMatches(['*.a.com'], 'x.a.com'));
  assert.ok(hostnameMatches(['*.a.com'], 'x.y.a.com'));
  assert.ok(!hostnameMatches(['*.a.com'], 'a.com'));
  assert.ok(!hostnameMatches(['*.a.com'], '.a.com'));
  assert.ok(!hostnameMatches(['*.a.com'], 'xa.com'));
  assert.ok(hostnameMatches(['b.com', 'a.com'], 'a.com'));
  assert.ok(!hostnameMatches(['a.com'], 'x.a.com'));
});

test('pathMatches prefix: whole segments, trailing slash of the prefix ignored', () => {
  const rows: [string, string, boolean][] = [
    ['/foo', '/foo', true], ['/foo', '/foo/', true], ['/foo', '/foo/bar', true], ['/foo', '/foobar', false],
    ['/foo/', '/foo', true], ['/foo/', '/foo/bar', true], ['/foo/', '/foobar', false], ['/', '/', true], ['/', '/anything/x', true],
    ['/foo', '/Foo', false], ['/foo/bar', '/foo', false],
  ];
  for (const [p, path, want] of rows) assert.equal(pathMatches({ kind: 'prefix', value: p }, path), want, `${p} ~ ${path}`);
  assert.ok(pathMatches({ kind: 'regex', value: '/a|/b' }, '/b'), 'alternation is anchored as a whole');
  assert.ok(!pathMatches({ kind: 'regex', value: '/a|/b' }, '/bc'));
  assert.ok(!pathMatches({ kind: 'regex', value: '(' }, '('), 'an invalid pattern matches nothing');
  assert.ok(pathMatches({ kind: 'regex', value: '/a\\-b/[0-9]{2,3}' }, '/a-b/123'), 'an escaped punctuation character the controller accepts');
});

test('modifyPath ReplacePrefixMatch: the Gateway API table', () => {
  // request path, prefix match, replacement, result (HTTPPathModifier documentation)
  const rows: [string, string, string, string][] = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'], ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'], ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'], ['/foo', '/foo', '/xyz', '/xyz'], ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'], ['/foo/', '/foo', '', '/'], ['/foo', '/foo', '', '/'], ['/foo/', '/foo', '/', '/'], ['/foo', '/foo', '/', '/'],
    ['/abc', '/', '/xyz', '/xyz/abc'],
  ];
  for (const [path, prefix, value, want] of rows) {
    assert.equal(modifyPath(path, { kind: 'prefix', value }, { path: { kind: 'prefix', value: prefix }, headers: [], query: [] }), want, `${path} ${prefix} → ${value}`);
  }
  assert.equal(modifyPath('/a/b', { kind: 'full', value: '/c' }, { headers: [], query: [] }), '/c');
  assert.equal(modifyPath('/a/b', { kind: 'prefix', value: '/c' }, { path: { kind: 'exact', value: '/a/b' }, headers: [], query: [] }), '/a/b', 'no prefix match: unchanged');
});

test('queryParams: first occurrence, raw values, empty parts skipped', () => {
  assert.deepEqual([...queryParams('a=1&b&a=2&&c=x%20y&=z')], [['a', '1'], ['b', ''], ['c', 'x%20y'], ['', 'z']]);
  assert.deepEqual([...queryParams('')], []);
});
