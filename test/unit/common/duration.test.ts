// common/duration.ts: the one duration syntax of flags (--cert-ttl, --window, --duration) and the
// UI's ?window=, table-driven.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../../../common/duration.js';

const CASES: ReadonlyArray<readonly [string, number | undefined]> = [
  ['500ms', 500],
  ['10s', 10_000],
  ['2m', 120_000],
  ['1m30s', 90_000],
  ['1h30m', 5_400_000],
  ['24h', 86_400_000],
  ['7d', 604_800_000],
  ['1s500ms', 1500],
  ['0s', 0],
  ['', undefined],
  ['10', undefined],
  ['s', undefined],
  ['1.5s', undefined],
  ['-1s', undefined],
  ['10 s', undefined],
  ['1w', undefined],
  ['10S', undefined],
  ['1m garbage', undefined],
  ['99999999999999999d', undefined],
];

for (const [v, want] of CASES) {
  test(`parseDuration(${JSON.stringify(v)}) = ${String(want)}`, () => assert.equal(parseDuration(v), want));
}
