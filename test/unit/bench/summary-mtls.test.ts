// The mTLS comparison's math: nodemesh ÷ HAProxy-TLS paired per round, the three mTLS targets
// (stream ≥ 1.3×, added p50 per hop ≤ 40 µs from the high-rate cell, new connections ≥ 1×), the
// handshake and failed-connection spreads, and the rendered mTLS and new-connection tables.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CellKind, Contender, Handshakes, Sample } from '../../../bench/cells.js';
import { renderTables } from '../../../bench/render.js';
import { DEFAULT_GOALS, mtlsTargets, summarize } from '../../../bench/summary.js';

const hopsOf = (c: Contender): number => (c === 'direct' ? 0 : 2);
function cross(round: number, kind: CellKind, contender: Contender, v: Partial<Sample>): Sample {
  return { round, kind, path: 'cross', contender, hops: hopsOf(contender), wallSeconds: 5, ...v };
}
const conn = (round: number, c: Contender, rate: number, handshakes?: Handshakes): Sample =>
  cross(round, 'connrate', c, { rate, p50: 1e6 / rate, p99: 3e6 / rate, roundTrips: rate * 5, connErrors: 0, proxyCpuSeconds: 1, ...(handshakes ? { handshakes } : {}) });

// two rounds: p50 at the high rate (direct 50/52; nodemesh +2×30 and +2×45 µs), streams, connections
const samples: Sample[] = [
  cross(0, 'latency-hi', 'direct', { p50: 50, p99: 300, p999: 600 }),
  cross(0, 'latency-hi', 'nodemesh', { p50: 110, p99: 500, p999: 900 }),
  cross(0, 'latency-hi', 'haproxy-tls', { p50: 100, p99: 400, p999: 800 }),
  cross(1, 'latency-hi', 'direct', { p50: 52, p99: 300, p999: 600 }),
  cross(1, 'latency-hi', 'nodemesh', { p50: 142, p99: 520, p999: 950 }),
  cross(1, 'latency-hi', 'haproxy-tls', { p50: 98, p99: 410, p999: 820 }),
  // the base-rate cell disagrees on purpose: the mTLS target must use the high-rate one
  cross(0, 'latency', 'direct', { p50: 50, p99: 300, p999: 600 }),
  cross(0, 'latency', 'nodemesh', { p50: 60, p99: 300, p999: 600 }),
  cross(0, 'stream', 'direct', { gbps: 16, bytes: 1e10 }),
  cross(0, 'stream', 'nodemesh', { gbps: 8, bytes: 5e9, proxyCpuSeconds: 3.5 }),
  cross(0, 'stream', 'haproxy-tls', { gbps: 4, bytes: 2.5e9, proxyCpuSeconds: 2.5 }),
  cross(1, 'stream', 'nodemesh', { gbps: 6, bytes: 3.75e9 }),
  cross(1, 'stream', 'haproxy-tls', { gbps: 5, bytes: 3.1e9 }),
  conn(0, 'direct', 14000), conn(1, 'direct', 13000),
  conn(0, 'nodemesh', 4000, { client: 0, server: 0, clientResumed: 0 }), conn(1, 'nodemesh', 900, { client: 0, server: 2, clientResumed: 0 }),
  conn(0, 'haproxy-tls', 1000, { client: 5000, server: 5000, clientResumed: 4990, serverResumed: 4990 }),
  conn(1, 'haproxy-tls', 1000, { client: 5000, server: 5000, clientResumed: 5000, serverResumed: 5000 }),
];
const s = summarize(samples, 2);
const who = (kind: CellKind, c: Contender) => s.cells.find((x) => x.kind === kind && x.path === 'cross')!.contenders.find((x) => x.contender === c)!;
const t = (name: string) => s.mtlsTargets.find((x) => x.name === name)!;

test('nodemesh ÷ HAProxy-TLS is paired per round; HAProxy-TLS has no such ratio itself', () => {
  assert.deepEqual(who('stream', 'nodemesh').metrics.gbps?.ratioToHaproxyTls, { min: 1.2, median: 1.6, max: 2, n: 2 });
  assert.deepEqual(who('connrate', 'nodemesh').metrics.rate?.ratioToHaproxyTls, { min: 0.9, median: 2.45, max: 4, n: 2 });
  assert.equal(who('stream', 'haproxy-tls').metrics.gbps?.ratioToHaproxyTls, undefined);
  assert.equal(who('stream', 'nodemesh').metrics.gbps?.ratioToHaproxy, undefined, 'no plain HAProxy samples: no ratio');
});

test('mTLS targets: stream ≥ 1.3×, added p50 per hop ≤ 40 µs at the high rate, connections ≥ HAProxy-TLS', () => {
  const cases = [
    { name: 'mTLS one stream ÷ HAProxy-TLS', measured: 1.6, met: true, cell: 'stream' },
    // per round (110 − 50) / 2 = 30 and (142 − 52) / 2 = 45 → median 37.5
    { name: 'mTLS added p50 per hop', measured: 37.5, met: true, cell: 'latency-hi' },
    { name: 'mTLS new connections/s ÷ HAProxy-TLS', measured: 2.45, met: true, cell: 'connrate' },
  ];
  for (const c of cases) {
    const x = t(c.name);
    assert.ok(Math.abs(x.measured! - c.measured) < 1e-9, `${c.name}: ${x.measured}`);
    assert.deepEqual([x.met, x.cell, x.path], [c.met, c.cell, 'cross'], c.name);
  }
  const strict = mtlsTargets(s.cells, { ...DEFAULT_GOALS, mtlsStreamVsHaproxyTls: 2, mtlsAddedP50PerHopUs: 20, mtlsConnRateVsHaproxyTls: 3 });
  assert.deepEqual(strict.map((x) => x.met), [false, false, false]);
  assert.ok(Math.abs(strict[0]!.missBy! - 0.4) < 1e-9);
  assert.equal(strict[1]!.missBy, 17.5);
});

test('without the high-rate cell the base-rate cell decides; without HAProxy-TLS there are no mTLS targets', () => {
  const noHi = summarize(samples.filter((x) => x.kind !== 'latency-hi'), 2);
  const p = noHi.mtlsTargets.find((x) => x.name === 'mTLS added p50 per hop')!;
  assert.deepEqual([p.measured, p.cell], [5, 'latency']);
  assert.deepEqual(summarize(samples.filter((x) => x.contender !== 'haproxy-tls'), 2).mtlsTargets, []);
});

test('handshakes and failed connections are spread over rounds', () => {
  const h = who('connrate', 'haproxy-tls').cost;
  assert.deepEqual(h.handshakesClient, { min: 5000, median: 5000, max: 5000, n: 2 });
  assert.deepEqual(h.resumedServer, { min: 4990, median: 4995, max: 5000, n: 2 });
  assert.deepEqual(who('connrate', 'nodemesh').cost.handshakesServer, { min: 0, median: 1, max: 2, n: 2 });
  assert.deepEqual(who('connrate', 'direct').cost.connErrors, { min: 0, median: 0, max: 0, n: 2 });
  assert.equal(who('connrate', 'haproxy-tls').cost.cpuMsPer1kRt, undefined, 'raw cost comes from runCell, not recomputed');
});

test('rendering: the high-rate, new-connection and mTLS sections with their verdicts', () => {
  const md = renderTables(s, { rate: 1000, highRate: 10000, msgSize: 1024, seconds: 5, pingpongSeconds: 2, connParallel: 16 }, 'md');
  for (const h of ['open loop at 10000 msg/s', 'New connections (connect, 1024 B request', '16 parallel loops', 'mTLS, cross node', 'mTLS: proxy CPU', 'mTLS targets']) assert.ok(md.includes(h), h);
  assert.ok(md.includes('| HAProxy-TLS (mTLS 1.3 between the instances) |'));
  assert.ok(md.includes('5000 / 5000 (4995 / 4995)'), 'handshakes with resumed ones');
  assert.ok(/\| nodemesh \(HBONE: mTLS 1.3, pooled\) \|.*\| 0 \/ 1 \|$/m.test(md), 'nodemesh: no resumption shown');
  assert.ok(md.includes('| mTLS added p50 per hop | cross node | ≤ 40 µs | 37.5 µs | met |'));
  assert.ok(md.includes('stream 1.60 (1.20…2.00)'));
});
