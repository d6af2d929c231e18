// Every MESH_ERR_* code in common/errors.ts and native/src/errors.rs is documented in docs/errors.md,
// and the docs list no code that does not exist; MeshError is recognised across module copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../../native/index.js';
import { ERROR_CODES, MeshError, isMeshError, toMeshError } from '../../common/errors.js';
import type * as Errors from '../../common/errors.js';

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

test('instanceof MeshError holds across two copies of the module (the bundled agent and the CLI)', async () => {
  const copy = (await import(`../../common/errors.js?copy=${Date.now()}`)) as typeof Errors;
  assert.notEqual(copy.MeshError, MeshError, 'a second module instance');
  const foreign = new copy.MeshError('MESH_ERR_CONFIG', 'from the other copy');
  assert.ok(foreign instanceof MeshError);
  assert.ok(isMeshError(foreign));
  assert.equal(toMeshError(foreign, 'MESH_ERR_USAGE', 'ctx'), foreign);
  assert.ok(!(new Error('plain') instanceof MeshError));
  assert.ok(!(Object.assign(new Error('lookalike'), { code: 'MESH_ERR_CONFIG' }) instanceof MeshError));
  // a subclass keeps the ordinary prototype check
  class Sub extends MeshError {}
  assert.ok(new Sub('MESH_ERR_CONFIG', 's') instanceof Sub);
  assert.ok(new Sub('MESH_ERR_CONFIG', 's') instanceof MeshError);
  assert.ok(!(new MeshError('MESH_ERR_CONFIG', 'm') instanceof Sub));
});

test('the bundled agent loads from dist/ and exports what cli/agent.ts runs', async () => {
  const bundle = path.join(ROOT, 'dist', 'agent.bundle.mjs');
  assert.ok(existsSync(bundle), 'npm run build writes dist/agent.bundle.mjs');
  // importing it loads the config, CA, telemetry and OTLP protos through repoPath()
  const m = (await import(pathToFileURL(bundle).href)) as { runAgent?: unknown };
  assert.equal(typeof m.runAgent, 'function');
});
