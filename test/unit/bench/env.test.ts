// The benchmark's knobs: defaults, accepted values and the errors for bad ones.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readConfig } from '../../../bench/env.js';

test('defaults: 3 rounds of 5 s at 1,000 and 10,000 msg/s with 1 KB, 2 s ping-pong, 16 connection loops, no profile, snapshot on', () => {
  assert.deepEqual(readConfig({}), { rounds: 3, seconds: 5, rate: 1000, msgSize: 1024, pingpongSeconds: 2, highRate: 10000, connParallel: 16, profile: false, snapshot: true });
});

test('BENCH_* variables override; an empty one keeps the default', () => {
  const c = readConfig({ BENCH_ROUNDS: '5', BENCH_SECONDS: '2', BENCH_RATE: '5000', BENCH_MSG_SIZE: '64', BENCH_PINGPONG_SECONDS: '0', BENCH_HIGH_RATE: '0', BENCH_CONN_PARALLEL: '32', BENCH_PROFILE: '1', BENCH_SNAPSHOT: 'no', BENCH_TYPO: 'x' });
  assert.deepEqual(c, { rounds: 5, seconds: 2, rate: 5000, msgSize: 64, pingpongSeconds: 0, highRate: 0, connParallel: 32, profile: true, snapshot: false });
  assert.equal(readConfig({ BENCH_ROUNDS: '' }).rounds, 3);
});

test('bad values name the variable and the accepted range', () => {
  assert.throws(() => readConfig({ BENCH_ROUNDS: '0' }), /BENCH_ROUNDS=0: expected an integer from 1 to 100/);
  assert.throws(() => readConfig({ BENCH_SECONDS: '2.5' }), /BENCH_SECONDS/);
  assert.throws(() => readConfig({ BENCH_RATE: 'fast' }), /BENCH_RATE/);
  assert.throws(() => readConfig({ BENCH_MSG_SIZE: '8' }), /BENCH_MSG_SIZE/);
  assert.throws(() => readConfig({ BENCH_PROFILE: 'maybe' }), /BENCH_PROFILE=maybe: expected 1 or 0/);
});
