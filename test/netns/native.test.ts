// The native layer on a real kernel, outside any cluster: native evaluate() executes exactly the
// decisions of the TypeScript decide() (every fixture row), a panic surfaces as a MeshError code,
// and bad arguments are rejected before they cross.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, NodeProxy, loadBinding } from '../../native/index.js';
import { rootGate } from './helpers.js';

const skip = rootGate();

test('native evaluate() agrees with decide() on every fixture row', { skip }, () => {
  const out = execFileSync('unshare', ['-n', process.execPath, path.join(ROOT, 'dist/test/netns/tools/evaluate-check.js')], { encoding: 'utf8', timeout: 30_000 });
  const rows = JSON.parse(out) as Array<{ name: string; ts: unknown; native: unknown }>;
  assert.ok(rows.length >= 10);
  for (const r of rows) assert.deepEqual(r.native, r.ts, r.name);
});

test('a native panic arrives as MESH_ERR_NATIVE_PANIC and the process lives on', () => {
  assert.throws(() => loadBinding().testPanic(), { code: 'MESH_ERR_NATIVE_PANIC' });
});

test('invalid proxy options are rejected with MESH_ERR_INVALID_ARG', () => {
  assert.throws(() => NodeProxy.start({ outboundPort: 0 }, () => undefined), { code: 'MESH_ERR_INVALID_ARG' });
  assert.throws(() => NodeProxy.start({ maxBufferBytes: 10 }, () => undefined), { code: 'MESH_ERR_INVALID_ARG' });
});
