// Round statistics of the benchmark: median, min/median/max spreads that skip missing rounds, and
// paired per-round differences and ratios.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costPer, median, pairedDiff, pairedRatio, scale, spread } from '../../../bench/stats.js';

test('median of odd and even counts, unsorted input left untouched', () => {
  const v = [5, 1, 3];
  assert.equal(median(v), 3);
  assert.deepEqual(v, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), RangeError);
});

test('spread skips undefined and non-finite rounds and counts the rest', () => {
  assert.deepEqual(spread([3, undefined, 1, 2, NaN]), { min: 1, median: 2, max: 3, n: 3 });
  assert.equal(spread([undefined]), undefined);
  assert.equal(spread([]), undefined);
});

test('paired differences and ratios only where both rounds exist', () => {
  assert.deepEqual(pairedDiff([10, 20, undefined, 5], [4, undefined, 1, 5]), [6, undefined, undefined, 0]);
  assert.deepEqual(pairedRatio([10, 20, 3], [5, 0, undefined]), [2, undefined, undefined]);
  assert.deepEqual(scale([4, undefined, -2], 0.5), [2, undefined, -1]);
});

test('costPer: CPU per unit of work, undefined without CPU or work', () => {
  assert.equal(costPer(0.5, 5000, 1000), 0.1);
  assert.equal(costPer(2, 4e9, 1e9), 0.5);
  assert.equal(costPer(undefined, 10, 1), undefined);
  assert.equal(costPer(1, 0, 1), undefined);
  assert.equal(costPer(1, undefined, 1), undefined);
});
