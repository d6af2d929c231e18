// /proc parsers of the scale benchmark: machine busy ticks, a process's CPU ticks, and the share
// of the machine other processes took.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuShare, cpuSnapshot, parseCpuLine, parsePidTicks } from '../../../bench/scale/procstat.js';

test('aggregate cpu line: idle and iowait are not busy', () => {
  const stat = 'cpu  100 5 20 800 10 0 3 2 0 0\ncpu0 50 2 10 400 5 0 1 1 0 0\n';
  assert.deepEqual(parseCpuLine(stat), { busy: 130, total: 940 });
  assert.throws(() => parseCpuLine('intr 1 2 3'), /no aggregate cpu line/);
});

test('process ticks: utime + stime, even with spaces and parentheses in the name', () => {
  const stat = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 269 0 0 20 0 11 0 123 0 0';
  assert.equal(parsePidTicks(stat), 1000);
});

test('share of the machine: all busy time, and the part not ours', () => {
  assert.deepEqual(cpuShare({ busy: 0, total: 0, ours: 0 }, { busy: 100, total: 200, ours: 60 }), { busyPct: 50, foreignPct: 20 });
  assert.deepEqual(cpuShare({ busy: 0, total: 0, ours: 0 }, { busy: 10, total: 200, ours: 30 }), { busyPct: 5, foreignPct: 0 });
  assert.deepEqual(cpuShare({ busy: 5, total: 5, ours: 0 }, { busy: 5, total: 5, ours: 0 }), { busyPct: 0, foreignPct: 0 });
});

test('snapshot of this process', () => {
  const s = cpuSnapshot([process.pid, 999_999_999]);
  assert.ok(s.total > 0 && s.busy > 0 && s.ours >= 0);
});
