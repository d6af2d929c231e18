// Statistics of the scale benchmark: nearest-rank percentiles, summaries, grouping, the clock
// offset from ping round trips, formatting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockOffset, fmtBytes, fmtMs, fmtSummary, groupBy, percentile, summarize } from '../../../bench/scale/stats.js';

test('nearest-rank percentiles, input left untouched', () => {
  const v = [5, 1, 4, 2, 3];
  assert.equal(percentile(v, 50), 3);
  assert.equal(percentile(v, 0), 1);
  assert.equal(percentile(v, 100), 5);
  assert.equal(percentile(v, 99), 5);
  assert.deepEqual(v, [5, 1, 4, 2, 3]);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(hundred, 99), 99);
  assert.equal(percentile(hundred, 50), 50);
  assert.equal(percentile([...hundred, 1000], 99), 100);
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentile([1], 101), RangeError);
});

test('summaries skip non-finite values; none for an empty list', () => {
  assert.deepEqual(summarize([3, 1, NaN, 2, Infinity]), { n: 3, min: 1, p50: 2, p99: 3, max: 3, mean: 2 });
  assert.equal(summarize([]), undefined);
  assert.equal(summarize([NaN]), undefined);
});

test('groupBy keeps first-seen key order', () => {
  const g = groupBy([{ v: 2, k: 'b' }, { v: 1, k: 'a' }, { v: 3, k: 'b' }], (x) => x.k);
  assert.deepEqual([...g.keys()], ['b', 'a']);
  assert.deepEqual(g.get('b')!.map((x) => x.v), [2, 3]);
});

test('clock offset: the ping with the shortest round trip, remote stamp at its midpoint', () => {
  const r = clockOffset([
    { sent: 0, remote: 110, received: 20 }, // rtt 20: offset 100 ± 10
    { sent: 100, remote: 203, received: 104 }, // rtt 4: offset 101 ± 2
    { sent: 200, remote: 250, received: 300 },
  ]);
  assert.deepEqual(r, { offset: 101, bound: 2 });
  assert.deepEqual(clockOffset([{ sent: 10, remote: 9, received: 12 }]), { offset: -2, bound: 1 });
  assert.throws(() => clockOffset([]), RangeError);
});

test('formatting of ms, bytes and summaries', () => {
  assert.equal(fmtMs(1234.5), '1235');
  assert.equal(fmtMs(12.345), '12.3');
  assert.equal(fmtMs(1.2345), '1.23');
  assert.equal(fmtMs(undefined), '–');
  assert.equal(fmtBytes(512), '512 B');
  assert.equal(fmtBytes(2048), '2.0 KiB');
  assert.equal(fmtBytes(3 * 1024 * 1024), '3.00 MiB');
  assert.equal(fmtBytes(NaN), '–');
  assert.equal(fmtSummary(summarize([1, 2, 300])), '2.00 / 300 / 300');
  assert.equal(fmtSummary(undefined), '–');
});
