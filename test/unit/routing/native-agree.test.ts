// Native matching (native/src/l7/matching.rs, exported as routeEvaluate) against route.ts: every
// row of test/fixtures/routes/cases.json must give the same RouteResult from both and equal the
// row's expectation; every row again with other backend draws u; an invalid table is rejected.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { route } from '../../../agent/src/routing/route.js';
import type { TableHttp } from '../../../agent/src/routing/table.js';
import { routeEvaluate } from '../../../native/index.js';
import { cases, tableOf } from './cluster.js';

const fixture = cases();

test('the fixture has rows for every kind of result', () => {
  const kinds = new Set(fixture.rows.map((r) => (r.expect.kind === 'forward' ? 'forward' : `${r.expect.status}`)));
  for (const k of ['forward', '404', '500', '503']) assert.ok(kinds.has(k), `no row expects ${k}`);
});

for (const r of fixture.rows) {
  test(`native agrees: ${r.name}`, () => {
    const table = tableOf(fixture, r);
    const native = routeEvaluate(table, r.dst.ip, r.dst.port, r.head, r.u, r.clientNamespace);
    assert.deepEqual(native, route(table, r.dst, r.head, r.u, r.clientNamespace));
    assert.deepEqual(native, r.expect);
  });
}

test('native agrees on every row for backend draws across [0, 1)', () => {
  const draws = [0, 0.1, 0.25, 0.5, 0.7499, 0.75, 0.9, 0.99, 0.999999];
  let compared = 0;
  for (const r of fixture.rows) {
    const table = tableOf(fixture, r);
    for (const u of draws) {
      assert.deepEqual(routeEvaluate(table, r.dst.ip, r.dst.port, r.head, u, r.clientNamespace), route(table, r.dst, r.head, u, r.clientNamespace), `${r.name} with u=${u}`);
      compared++;
    }
  }
  assert.equal(compared, fixture.rows.length * draws.length);
});

test('an invalid table is rejected with the field path of the problem', () => {
  const r = fixture.rows[0]!;
  const table = structuredClone(tableOf(fixture, r)) as unknown as { ports: { routes: { match: { path?: { kind: string; value: string } } }[] }[] };
  table.ports[0]!.routes[0]!.match.path = { kind: 'regex', value: '(' };
  assert.throws(
    () => routeEvaluate(table as unknown as TableHttp, r.dst.ip, r.dst.port, r.head, 0),
    (e: Error & { code?: string }) => e.code === 'MESH_ERR_INVALID_ARG' && e.message.includes('http.ports[0].routes[0].match.path.value'),
  );
});
