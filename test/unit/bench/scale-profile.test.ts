// The scale benchmark's CPU-profile summary: self time by area and function, inclusive time of
// this repository's functions, idle time left out of the percentages.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { areaOf, summarize, type CpuProfile } from '../../../bench/scale/profile.js';

const frame = (functionName: string, url: string, lineNumber = 0): { functionName: string; url: string; lineNumber: number } => ({ functionName, url, lineNumber });

// root → update (views) → stringify (native); root → encode (protobufjs); root → (idle); root → (garbage collector)
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 5, 6] },
    { id: 2, callFrame: frame('update', 'file:///repo/dist/controller/src/views/model.js', 17), children: [3] },
    { id: 3, callFrame: frame('stringify', '') },
    { id: 4, callFrame: frame('finish', 'file:///repo/node_modules/protobufjs/src/writer.js', 449) },
    { id: 5, callFrame: frame('(idle)', '') },
    { id: 6, callFrame: frame('(garbage collector)', '') },
  ],
  // sample i lasts timeDeltas[i + 1] µs
  samples: [2, 3, 3, 4, 5, 6],
  timeDeltas: [0, 1000, 2000, 1000, 4000, 50_000, 1000],
};

test('areas by url and special frames', () => {
  assert.equal(areaOf('file:///x/dist/controller/src/views/derive.js', 'f'), 'controller views (model diff, per-node views)');
  assert.equal(areaOf('file:///x/node_modules/@grpc/grpc-js/build/src/server.js', 'f'), 'grpc-js (streams, HTTP/2)');
  assert.equal(areaOf('node:internal/http2/core', 'f'), 'Node.js internals (streams, http2, net)');
  assert.equal(areaOf('', '(garbage collector)'), 'garbage collector');
  assert.equal(areaOf('', 'JSONStringify'), 'V8 builtins and native');
});

test('self and inclusive times, idle excluded from busy', () => {
  const s = summarize(profile);
  assert.equal(s.idleMs, 50);
  assert.equal(s.busyMs, 1 + 2 + 1 + 4 + 1);
  assert.deepEqual(s.selfTop.map((f) => [f.fn, f.ms]), [['finish', 4], ['stringify', 3], ['update', 1], ['(garbage collector)', 1]]);
  assert.equal(s.selfTop[0]!.where, 'protobufjs/src/writer.js:450');
  assert.deepEqual(s.ownInclusiveTop.map((f) => [f.fn, f.where, f.ms]), [['update', 'controller/src/views/model.js:18', 4]]);
  const views = s.areas.find((a) => a.area.startsWith('controller views'))!;
  assert.equal(views.ms, 1);
  assert.ok(Math.abs(s.areas.reduce((a, x) => a + x.pct, 0) - 100) < 1e-9);
});
