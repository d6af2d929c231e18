// Finding the running cluster from its state dir, as `cluster exec` does: the only live one, the one
// named by --cluster, clear errors for none, several, unknown or stale ones. No root (the state root
// is pointed at a temp dir).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findRunningCluster, listStateDirs, readStatus, startTime, writeStatus, type ClusterStatus } from '../../../sim/index.js';

const root = mkdtempSync(path.join(tmpdir(), 'nm-state-'));
process.env.NODEMESH_STATE_DIR = root;
after(() => { rmSync(root, { recursive: true, force: true }); delete process.env.NODEMESH_STATE_DIR; });

function status(id: string, owner: { pid: number; startTime?: number }): ClusterStatus {
  return {
    clusterId: id, createdAt: '2025-01-01T00:00:00Z', owner, manifestsDir: '/m', runDir: path.join(root, id), renderedDir: path.join(root, id, 'manifests'),
    fabricNetns: `nm-${id}-fab`, agents: false, phase: 'running', nodes: [], pods: [],
  };
}

const me = { pid: process.pid, startTime: startTime(process.pid)! };

test('no cluster: the error says how to start one', () => {
  assert.throws(() => findRunningCluster(), (e: Error & { code?: string }) => e.code === 'MESH_ERR_CLUSTER' && /nodemesh cluster up --manifests DIR/.test(e.message));
});

test('a stale cluster (owner gone) is not running and the error points at cluster down', () => {
  writeStatus(status('dead01', { pid: process.pid, startTime: me.startTime + 1 }));
  assert.throws(() => findRunningCluster(), /stale state of dead01: run "nodemesh cluster down"/);
  assert.throws(() => findRunningCluster('dead01'), /is not running/);
});

test('the only live cluster is found; with several, --cluster is required', () => {
  writeStatus(status('aaa111', me));
  assert.equal(findRunningCluster().clusterId, 'aaa111');
  writeStatus(status('bbb222', me));
  assert.throws(() => findRunningCluster(), /2 clusters are running \(aaa111, bbb222\); pick one with --cluster ID/);
  assert.equal(findRunningCluster('bbb222').clusterId, 'bbb222');
  assert.throws(() => findRunningCluster('ccc333'), /no cluster "ccc333"/);
  assert.deepEqual(listStateDirs(), ['aaa111', 'bbb222', 'dead01']);
  assert.equal(readStatus('aaa111')?.fabricNetns, 'nm-aaa111-fab');
});
