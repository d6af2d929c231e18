// Table-driven tests of authorize(): every row of test/fixtures/authz/cases.json, per TCP connection
// or per HTTP request (the same rows native Authz::evaluate_request must satisfy, `cargo test authz`),
// plus the glob and CIDR helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, globMatches, identityNamespace, parseCidr, parseIpv4 } from '../../../agent/src/authz/index.js';
import { cases } from './cluster.js';

const { tables } = cases();


test('cases.json holds the shared tables and enough rows', () => {
  assert.deepEqual(tables.map((t) => t.name), ['semantics', 'compiled', 'http']);
  assert.ok(tables.reduce((n, t) => n + t.rows.length, 0) >= 160);
  assert.ok(tables.reduce((n, t) => n + t.rows.filter((r) => r.http).length, 0) >= 60, 'rows with an HTTP request');
  for (const t of tables) assert.equal(new Set(t.rows.map((r) => r.name)).size, t.rows.length, `${t.name}: row names are unique`);
});

for (const t of tables) {
  for (const r of t.rows) {
    test(`authorize [${t.name}]: ${r.name}`, () => {
      assert.deepEqual(authorize(t.table, r.input, r.http), r.want);
    });
  }
}

test('authorize is pure: the same input gives the same verdict and the table is untouched', () => {
  const t = tables[0]!;
  const before = JSON.stringify(t.table);
  for (const r of t.rows) assert.deepEqual(authorize(t.table, r.input, r.http), authorize(t.table, r.input, r.http));
  assert.equal(JSON.stringify(t.table), before);
});

test('globMatches: stars within segments, "*" alone, segment counts', () => {
  const rows: [string, string, boolean][] = [
    ['*', 'spiffe://a/ns/b/sa/c', true],
    ['spiffe://cluster.local/ns/shop/sa/*', 'spiffe://cluster.local/ns/shop/sa/web', true],
    ['spiffe://cluster.local/ns/shop/sa/*', 'spiffe://cluster.local/ns/shop/sa/', true],
    ['spiffe://cluster.local/ns/shop/sa/*', 'spiffe://cluster.local/ns/shop/sa/a/b', false],
    ['spiffe://cluster.local/ns/shop/sa/*', 'spiffe://cluster.local/ns/shopx/sa/web', false],
    ['spiffe://*/ns/*/sa/*', 'spiffe://td/ns/n/sa/s', true],
    ['spiffe://*.example/ns/a/sa/b', 'spiffe://x.y.example/ns/a/sa/b', true],
    ['spiffe://td/ns/a**b/sa/s', 'spiffe://td/ns/ab/sa/s', true],
    ['spiffe://td/ns/*a*a/sa/s', 'spiffe://td/ns/aaa/sa/s', true],
    ['spiffe://td/ns/*a*a/sa/s', 'spiffe://td/ns/aab/sa/s', false],
    ['spiffe://td/ns/a/sa/b', 'spiffe://td/ns/a/sa/b', true],
    ['spiffe://td/ns/a/sa/b', 'spiffe://td/ns/a/sa/bc', false],
  ];
  for (const [p, id, want] of rows) assert.equal(globMatches(p, id), want, `${p} ~ ${id}`);
});

test('identityNamespace takes the namespace of a well-formed SPIFFE ID only', () => {
  assert.equal(identityNamespace('spiffe://cluster.local/ns/shop/sa/web'), 'shop');
  for (const bad of ['spiffe://cluster.local/ns/shop', 'spiffe://cluster.local/ns//sa/web', 'spiffe:///ns/a/sa/b', 'spiffe://td/ns/a/sa/b/c', 'https://td/ns/a/sa/b', 'spiffe://td/sa/b/ns/a']) {
    assert.equal(identityNamespace(bad), undefined, bad);
  }
});

test('parseIpv4 and parseCidr accept dotted quads without leading zeros and /0../32', () => {
  assert.equal(parseIpv4('10.0.0.1'), 0x0a000001);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['10.0.0', '10.0.0.1.2', '10.0.0.256', '010.0.0.1', '10.0.0.-1', '10.0.0.', ' 10.0.0.1', '1e1.0.0.1']) assert.equal(parseIpv4(bad), undefined, bad);
  assert.deepEqual(parseCidr('10.1.2.3/8'), { net: 0x0a000000, mask: 0xff000000 });
  assert.deepEqual(parseCidr('10.1.2.3'), { net: 0x0a010203, mask: 0xffffffff });
  assert.deepEqual(parseCidr('0.0.0.0/0'), { net: 0, mask: 0 });
  assert.deepEqual(parseCidr('128.0.0.0/1'), { net: 0x80000000, mask: 0x80000000 });
  for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/-1', '10.0.0/8', '10.0.0.0/8/8', '::1/128']) assert.equal(parseCidr(bad), undefined, bad);
});
