// Knobs of the scale benchmark: defaults of issue 9, validation with the variable's name, and the
// split of agents over processes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scaleConfig, split } from '../../../bench/scale/config.js';

test('defaults: 10 000 pods, 1 000 services, 100 nodes, 100 agents in 4 processes, both sources', () => {
  const c = scaleConfig({});
  assert.deepEqual(c.shape, { pods: 10_000, services: 1_000, nodes: 100, namespaces: 20, slices: false, spareIps: 32 });
  assert.equal(c.agents, 100);
  assert.equal(c.agentProcs, 4);
  assert.equal(c.changes, 20);
  assert.deepEqual(c.sources, ['memory', 'manifests']);
  assert.equal(c.agentCache, false);
  assert.equal(c.profile, false);
});

test('knobs from the environment', () => {
  const c = scaleConfig({ PODS: '500', SERVICES: '50', NODES: '10', SLICES: '1', AGENT_PROCS: '16', SOURCES: 'manifests', PROFILE: 'true', AGENTS: '3' });
  assert.equal(c.shape.pods, 500);
  assert.equal(c.shape.nodes, 10);
  assert.equal(c.shape.slices, true);
  assert.equal(c.agents, 3);
  assert.equal(c.agentProcs, 3, 'never more processes than agents');
  assert.deepEqual(c.sources, ['manifests']);
  assert.equal(c.profile, true);
  assert.equal(scaleConfig({ MEM_VIEWS: '50', NODES: '5' }).memViews, 5);
});

test('invalid knobs name the variable', () => {
  assert.throws(() => scaleConfig({ PODS: 'many' }), /PODS=many/);
  assert.throws(() => scaleConfig({ NODES: '0' }), /NODES=0/);
  assert.throws(() => scaleConfig({ SLICES: 'yes' }), /SLICES=yes/);
  assert.throws(() => scaleConfig({ SOURCES: 'memory,etcd' }), /SOURCES/);
  assert.throws(() => scaleConfig({ AGENTS: '101' }), /AGENTS=101/);
  assert.throws(() => scaleConfig({ NODES: '1', CHANGES: '40' }), /CHANGES\+WARMUP/);
});

test('split: contiguous parts whose sizes differ by at most one', () => {
  assert.deepEqual(split([1, 2, 3, 4, 5, 6, 7], 3), [[1, 2, 3], [4, 5], [6, 7]]);
  assert.deepEqual(split([1, 2], 4), [[1], [2], [], []]);
  const parts = split(Array.from({ length: 100 }, (_, i) => i), 4);
  assert.deepEqual(parts.map((p) => p.length), [25, 25, 25, 25]);
  assert.deepEqual(parts.flat(), Array.from({ length: 100 }, (_, i) => i));
});
