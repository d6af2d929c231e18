// stat(), quantile() and edges(): table rows over hand-built agent snapshots — counter deltas
// over the window, one count per request seen at both hops, restarts, quantile interpolation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReportStore, edges, quantile, stat, type Snapshot, type WindowPair } from '../../../controller/src/insight/index.js';

const B = [1, 5, 10];
type H = Snapshot['http'][number];
const h = (o: Partial<H> & Pick<H, 'requests' | 'successes' | 'failures' | 'latencyCounts'>): H => ({
  direction: 'outbound', src: { namespace: 'shop', workload: 'client' }, dst: { namespace: 'shop', workload: 'api' },
  route: 'shop/r', routeKind: 'HTTPRoute', backend: 'shop/api', tls: true, latencySumMs: 0, ...o,
});
const snap = (node: string, atMs: number, http: H[], extra: Partial<Snapshot> = {}): Snapshot => ({
  node, receivedMs: atMs, atMs, startedAtMs: 0, bucketsMs: B, http, tcp: [], authz: [], pods: [], configVersion: 1, configError: '', ...extra,
});

test('quantile interpolates inside the bucket, the overflow bucket answers its lower bound', () => {
  const rows: Array<[number, number[], number | null]> = [
    [0.5, [0, 0, 0, 0], null],
    [0.5, [10, 0, 0, 0], 0.5],
    [0.5, [0, 10, 0, 0], 3],
    [0.99, [0, 0, 0, 10], 10],
    [0.9, [5, 5, 0, 0], 4.2],
  ];
  for (const [q, counts, want] of rows) {
    const got = quantile(q, B, counts);
    if (want === null) assert.equal(got, null);
    else assert.ok(Math.abs((got ?? NaN) - want) < 1e-9, `q${q} of ${counts}: ${got} != ${want}`);
  }
});

test('a window is the difference of two reports; rps over the reports\' own clocks', () => {
  const start = snap('a', 10_000, [h({ requests: 100, successes: 90, failures: 10, latencyCounts: [50, 50, 0, 0] })]);
  const end = snap('a', 20_000, [h({ requests: 300, successes: 280, failures: 20, latencyCounts: [50, 250, 0, 0] })]);
  const [row] = stat([{ node: 'a', start, end }], { kind: 'workload' });
  assert.equal(row?.name, 'api');
  assert.equal(row?.requests, 200);
  assert.equal(row?.rps, 20);
  assert.equal(row?.successRate, 190 / 200);
  assert.equal(row?.latencyMs.p50, 3); // all 200 new responses are in (1, 5]
  const [route] = stat([{ node: 'a', start, end }], { kind: 'route' });
  assert.deepEqual([route?.namespace, route?.name, route?.requests], ['shop', 'r', 200]);
  const [svc] = stat([{ node: 'a', start, end }], { kind: 'service' });
  assert.deepEqual([svc?.namespace, svc?.name], ['shop', 'api']);
});

test('a request counted at both hops counts once: the client side wins, inbound-only pairs stay', () => {
  const out = h({ requests: 10, successes: 10, failures: 0, latencyCounts: [10, 0, 0, 0] });
  const inSame = h({ direction: 'inbound', requests: 10, successes: 10, failures: 0, latencyCounts: [10, 0, 0, 0] });
  const inPlain = h({ direction: 'inbound', src: { namespace: 'unknown', workload: 'unknown' }, requests: 5, successes: 0, failures: 5, latencyCounts: [5, 0, 0, 0] });
  const pairs: WindowPair[] = [
    { node: 'a', start: undefined, end: snap('a', 10_000, [out]) },
    { node: 'b', start: undefined, end: snap('b', 10_000, [inSame, inPlain]) },
  ];
  const [row] = stat(pairs, { kind: 'workload' });
  assert.equal(row?.requests, 15);
  assert.equal(row?.successRate, 10 / 15);
  assert.equal(stat(pairs, { kind: 'workload', from: 'shop/client' })[0]?.requests, 10);
});

test('an agent restart starts its counters again: the window starts at the restart', () => {
  const before = snap('a', 10_000, [h({ requests: 1000, successes: 1000, failures: 0, latencyCounts: [1000, 0, 0, 0] })]);
  const after = snap('a', 20_000, [h({ requests: 10, successes: 10, failures: 0, latencyCounts: [10, 0, 0, 0] })], { startedAtMs: 15_000 });
  // the store never pairs across a restart: start is undefined, so the window is since the restart
  const store = new ReportStore();
  store.add(before);
  store.add(after);
  const pairs = store.window(60_000, 20_000);
  assert.equal(pairs.length, 1);
  assert.equal(pairs[0]!.start, undefined, 'no pairing across the restart');
  const [row] = stat(pairs, { kind: 'workload' });
  assert.equal(row?.requests, 10);
  assert.equal(row?.rps, 2);
});

test('namespace and name filters; unknown peers get no row; workloads without traffic do', () => {
  const end = snap('a', 10_000, [h({ requests: 1, successes: 1, failures: 0, latencyCounts: [1, 0, 0, 0], dst: { namespace: 'unknown', workload: 'unknown' } })], {
    pods: [{ key: 'shop/api-1', workload: 'api', ip: '10.0.0.1', meshed: true, reason: 'enrolled', capture: 'attached', captureError: '', identity: '', certState: 'valid', certNotAfterMs: 0 },
      { key: 'shop/api-2', workload: 'api', ip: '10.0.0.2', meshed: false, reason: 'opted-out', capture: 'off', captureError: '', identity: '', certState: '', certNotAfterMs: 0 }],
  });
  const rows = stat([{ node: 'a', start: undefined, end }], { kind: 'workload' });
  assert.deepEqual(rows.map((r) => [r.name, r.requests, r.successRate, r.pods]), [['api', 0, null, { meshed: 1, total: 2 }]]);
  assert.equal(stat([{ node: 'a', start: undefined, end }], { kind: 'workload', namespace: 'other' }).length, 0);
});

test('edges: one per client/server pair with rate, success and mTLS', () => {
  const end = snap('a', 10_000, [h({ requests: 20, successes: 19, failures: 1, latencyCounts: [20, 0, 0, 0] })]);
  const e = edges([{ node: 'a', start: undefined, end }]);
  assert.deepEqual(e.map((x) => [x.src, x.dst, x.requests, x.rps, x.successRate, x.mtls]), [['shop/client', 'shop/api', 20, 2, 0.95, true]]);
});
