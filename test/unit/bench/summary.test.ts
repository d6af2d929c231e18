// From per-round samples to the verdict: spreads, added latency paired per round and per hop,
// ratios to direct and to HAProxy, background-corrected CPU cost, targets, and the rendered tables.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CellKind, Contender, PathKind, Sample } from '../../../bench/cells.js';
import { background, netCost, summarize, targets } from '../../../bench/summary.js';
import { fmtNum, fmtSpread, renderTables, table } from '../../../bench/render.js';

function lat(round: number, path: PathKind, contender: Contender, p50: number, p99: number, extra: Partial<Sample> = {}): Sample {
  const hops = contender === 'direct' ? 0 : path === 'same' ? 1 : 2;
  return { round, kind: 'latency', path, contender, hops, p50, p99, p999: p99 * 2, max: p99 * 3, roundTrips: 5000, wallSeconds: 10, ...extra };
}
function stream(round: number, path: PathKind, contender: Contender, gbps: number, extra: Partial<Sample> = {}): Sample {
  const hops = contender === 'direct' ? 0 : path === 'same' ? 1 : 2;
  return { round, kind: 'stream' as CellKind, path, contender, hops, gbps, bytes: gbps * 5e9 / 8, wallSeconds: 5, ...extra };
}

// two rounds; round 2 is uniformly noisier (+100 µs everywhere): paired differences cancel it
const samples: Sample[] = [
  lat(0, 'same', 'direct', 50, 100, { cpuByProxy: { nodemesh: 0.01, haproxy: 0 } }),
  lat(0, 'same', 'nodemesh', 70, 150, { proxyCpuSeconds: 0.11 }),
  lat(0, 'same', 'haproxy', 80, 170, { proxyCpuSeconds: 0.2 }),
  lat(1, 'same', 'direct', 150, 200, { cpuByProxy: { nodemesh: 0.03, haproxy: 0 } }),
  lat(1, 'same', 'nodemesh', 180, 260, { proxyCpuSeconds: 0.13 }),
  lat(1, 'same', 'haproxy', 175, 280, { proxyCpuSeconds: 0.2 }),
  lat(0, 'cross', 'direct', 60, 100),
  lat(0, 'cross', 'nodemesh', 140, 400),
  lat(0, 'cross', 'haproxy', 200, 500),
  lat(1, 'cross', 'direct', 160, 200),
  lat(1, 'cross', 'nodemesh', 220, 500),
  { round: 1, kind: 'latency', path: 'cross', contender: 'haproxy', hops: 2, wallSeconds: 10, error: 'sockperf exited 1' },
  stream(0, 'same', 'direct', 16), stream(0, 'same', 'nodemesh', 10), stream(0, 'same', 'haproxy', 8),
  stream(1, 'same', 'direct', 18), stream(1, 'same', 'nodemesh', 12), stream(1, 'same', 'haproxy', 9),
  stream(0, 'cross', 'direct', 16), stream(0, 'cross', 'nodemesh', 8), stream(0, 'cross', 'haproxy', 10),
];

const s = summarize(samples, 2);
const cell = (kind: CellKind, path: PathKind) => s.cells.find((c) => c.kind === kind && c.path === path)!;
const who = (kind: CellKind, path: PathKind, c: Contender) => cell(kind, path).contenders.find((x) => x.contender === c)!;

test('values spread over rounds; added latency is paired per round, then divided by the hops', () => {
  const m = who('latency', 'same', 'nodemesh').metrics;
  assert.deepEqual(m.p50?.value, { min: 70, median: 125, max: 180, n: 2 });
  assert.deepEqual(m.p50?.added, { min: 20, median: 25, max: 30, n: 2 });
  assert.deepEqual(m.p50?.addedPerHop, m.p50?.added);
  const x = who('latency', 'cross', 'nodemesh').metrics;
  assert.deepEqual(x.p50?.added, { min: 60, median: 70, max: 80, n: 2 });
  assert.deepEqual(x.p50?.addedPerHop, { min: 30, median: 35, max: 40, n: 2 });
  assert.equal(who('latency', 'same', 'direct').metrics.p50?.added, undefined, 'direct has no added latency');
});

test('ratios to direct for both proxies, to HAProxy for nodemesh only; failed rounds drop out', () => {
  const r = who('latency', 'same', 'nodemesh').metrics.p50?.ratioToDirect;
  assert.deepEqual([r?.min, r?.max, r?.n], [1.2, 1.4, 2]);
  assert.ok(Math.abs(r!.median - 1.3) < 1e-12);
  assert.equal(who('latency', 'same', 'haproxy').metrics.p50?.ratioToHaproxy, undefined);
  const hx = who('latency', 'cross', 'haproxy');
  assert.equal(hx.ok, 1);
  assert.deepEqual(hx.errors, ['sockperf exited 1']);
  assert.deepEqual(who('latency', 'cross', 'nodemesh').metrics.p50?.ratioToHaproxy, { min: 0.7, median: 0.7, max: 0.7, n: 1 });
  assert.deepEqual(who('stream', 'same', 'nodemesh').metrics.gbps?.ratioToDirect?.median, (10 / 16 + 12 / 18) / 2);
});

test('background CPU comes from the direct cells; net cost subtracts it over the cell\'s wall time', () => {
  assert.deepEqual(background(samples, 'nodemesh'), [1, 3]);
  assert.deepEqual(s.backgroundCpuMsPerSec.nodemesh, { min: 1, median: 2, max: 3, n: 2 });
  // 0.11 s − 2 ms/s × 10 s = 0.09 s over 5,000 round trips = 18 ms per 1k
  const net = netCost(samples[1]!, 2);
  assert.ok(Math.abs(net.cpuMsPer1kRtNet! - 18) < 1e-9);
  assert.equal(netCost(samples[1]!, undefined).cpuMsPer1kRtNet, undefined);
  assert.equal(netCost({ ...samples[1]!, proxyCpuSeconds: 0.001 }, 2).cpuMsPer1kRtNet, 0, 'never below zero');
  const c = who('latency', 'same', 'nodemesh').cost;
  assert.deepEqual([c.cpuMsPer1kRtNet?.min, c.cpuMsPer1kRtNet?.max].map((v) => Math.round(v! * 1000) / 1000), [18, 22]);
});

test('targets: per-hop added p50/p99, stream share of direct, and ahead of HAProxy', () => {
  const t = (name: string, path: PathKind) => s.targets.find((x) => x.name === name && x.path === path)!;
  assert.deepEqual([t('added p50 per hop', 'same').measured, t('added p50 per hop', 'same').met], [25, true]);
  const miss = t('added p50 per hop', 'cross');
  assert.deepEqual([miss.measured, miss.met, miss.missBy], [35, false, 5]);
  assert.equal(t('added p99 per hop', 'cross').met, false);
  assert.equal(t('one stream ÷ direct', 'same').met, true);
  assert.equal(t('one stream ÷ direct', 'cross').met, false);
  assert.equal(t('one stream ÷ HAProxy', 'cross').met, false);
  // per-round ratios 70/80 and 180/175: their median 0.95 is below 1 although round 2 alone is above
  const h = t('p50 ÷ HAProxy p50', 'same');
  assert.ok(Math.abs(h.measured! - (70 / 80 + 180 / 175) / 2) < 1e-12);
  assert.equal(h.met, true);
  assert.equal(targets([]).every((x) => x.met === undefined && x.measured === undefined), true);
});

test('rendering: numbers, spreads, Markdown and text tables, all sections', () => {
  assert.equal(fmtNum(1234.4), '1234');
  assert.equal(fmtNum(12.34), '12.3');
  assert.equal(fmtNum(1.234), '1.23');
  assert.equal(fmtNum(0.1234), '0.123');
  assert.equal(fmtSpread({ min: 1, median: 2, max: 3, n: 3 }, undefined, true), '+2.00 (+1.00…+3.00)');
  assert.equal(fmtSpread({ min: 5, median: 5, max: 5, n: 1 }, 0), '5');
  assert.equal(fmtSpread(undefined), '–');
  assert.equal(table(['a', 'b'], [['1', 'x|y']], 'md'), '| a | b |\n|---|---|\n| 1 | x\\|y |');
  assert.equal(table(['a', 'bb'], [['long', '1']], 'text'), 'a     bb\n----  --\nlong  1');
  const md = renderTables(s, { rate: 1000, msgSize: 1024, seconds: 5, pingpongSeconds: 2 }, 'md');
  for (const h of ['Round-trip latency, open loop at 1000 msg/s', 'Latency ratios', 'One stream', 'Proxy cost', 'Targets', 'Failed cells']) assert.ok(md.includes(h), h);
  assert.ok(!md.includes('Ping-pong'), 'no ping-pong section without ping-pong samples');
  assert.ok(md.includes('| cross node | nodemesh (2 hops) |'));
  assert.ok(md.includes('missed by 5.00 µs'));
});
