// The HAProxy contender's generated config: TCP mode, one listen section per forward, thread
// count, input validation; and the relay port scheme. Pure; HAProxy itself is not started here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haproxyConfig, relayPort } from '../../../bench/haproxy.js';

test('one TCP listen section per forward, with the thread count and no logging', () => {
  const cfg = haproxyConfig([
    { name: 'same-sockperf', bind: '10.200.1.1:21111', target: '10.200.1.13:11111' },
    { name: 'cross-iperf', bind: '10.200.1.1:35201', target: '10.199.0.2:35201' },
  ], { threads: 2, comment: 'test' });
  const lines = cfg.trimEnd().split('\n');
  assert.equal(lines[0], '# test');
  assert.ok(lines.includes('    nbthread 2'));
  assert.ok(lines.includes('    mode tcp'));
  assert.ok(!/\blog\b/.test(cfg), 'no log directive');
  const i = lines.indexOf('listen same-sockperf');
  assert.deepEqual(lines.slice(i, i + 3), ['listen same-sockperf', '    bind 10.200.1.1:21111', '    server s1 10.200.1.13:11111']);
  const j = lines.indexOf('listen cross-iperf');
  assert.deepEqual(lines.slice(j, j + 3), ['listen cross-iperf', '    bind 10.200.1.1:35201', '    server s1 10.199.0.2:35201']);
  assert.ok(cfg.endsWith('\n'));
});

test('invalid names, addresses, duplicates and thread counts are refused', () => {
  const ok = { name: 'a', bind: '10.0.0.1:1', target: '10.0.0.2:2' };
  assert.throws(() => haproxyConfig([{ ...ok, name: 'Bad Name' }], { threads: 1 }), /name/);
  assert.throws(() => haproxyConfig([{ ...ok, bind: 'localhost:1' }], { threads: 1 }), /ip:port/);
  assert.throws(() => haproxyConfig([{ ...ok, target: '10.0.0.2' }], { threads: 1 }), /ip:port/);
  assert.throws(() => haproxyConfig([ok, ok], { threads: 1 }), /duplicate/);
  assert.throws(() => haproxyConfig([ok], { threads: 0 }), /threads/);
});

test('relay ports: 2xxxx for the same-node hop, 3xxxx for the cross-node pair', () => {
  assert.equal(relayPort('same', 11111), 21111);
  assert.equal(relayPort('cross', 11111), 31111);
  assert.equal(relayPort('same', 5201), 25201);
  assert.equal(relayPort('cross', 5201), 35201);
});
