// Every MESH_ERR_* code in common/errors.ts and native/src/errors.rs is documented in docs/errors.md,
// and the docs list no code that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ROOT } from '../../native/index.js';
import { ERROR_CODES, MeshError, toMeshError } from '../../common/errors.js';

const docs = readFileSync(`${ROOT}/docs/errors.md`, 'utf8');
const documented = new Set([...docs.matchAll(/`(MESH_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!));
const rust = readFileSync(`${ROOT}/native/src/errors.rs`, 'utf8');
const rustCodes = new Set([...rust.matchAll(/"(MESH_ERR_[A-Z0-9_]+)"/g)].map((m) => m[1]!));

test('every TypeScript code is documented and vice versa', () => {
  for (const c of Object.keys(ERROR_CODES)) assert.ok(documented.has(c), `${c} missing from docs/errors.md`);
  for (const c of documented) assert.ok(c in ERROR_CODES, `docs/errors.md lists unknown ${c}`);
});

test('every native code exists in the TypeScript registry', () => {
  assert.ok(rustCodes.size > 5);
  for (const c of rustCodes) assert.ok(c in ERROR_CODES, `native code ${c} is not in common/errors.ts`);
});

test('toMeshError keeps a native code and falls back otherwise', () => {
  const native = Object.assign(new Error('boom'), { code: 'MESH_ERR_BPF_MAP' });
  assert.equal(toMeshError(native, 'MESH_ERR_CONFIG', 'ctx').code, 'MESH_ERR_BPF_MAP');
  assert.equal(toMeshError(new Error('x'), 'MESH_ERR_CONFIG', 'ctx').code, 'MESH_ERR_CONFIG');
  const m = new MeshError('MESH_ERR_USAGE', 'u');
  assert.equal(toMeshError(m, 'MESH_ERR_CONFIG', 'ctx'), m);
});
