// `nodemesh demo` as a newcomer runs it (the README's first command, after setup): it must pass,
// show stat and explain answers from the agents' reports, say where to look next, and leave no
// network namespace behind.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, rootGate } from './helpers.js';
import { listNetnsNames } from './demo-helpers.js';

const skip = rootGate();

describe('nodemesh demo', { skip, timeout: 300_000 }, () => {
  test('passes, shows stat and explain, says where to look next, cleans up', () => {
    const before = listNetnsNames();
    const r = spawnSync(process.execPath, [CLI, 'demo'], { encoding: 'utf8', timeout: 240_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /\ndemo passed\n/);
    assert.match(r.stdout, /NAMESPACE\s+NAME\s+MESHED\s+SUCCESS[^\n]*\nshop\s+default\s+3\/3\s+100\.00%/);
    assert.match(r.stdout, /legacy\/client on node-a \([\d.]+\): not meshed: its namespace does not have the label/);
    assert.match(r.stdout, /denied at the destination by shop\/deny-intruder \(MESH_ERR_AUTHZ_DENIED\)/);
    assert.match(r.stdout, /where to look next[\s\S]*nodemesh stat[\s\S]*nodemesh tap[\s\S]*nodemesh dashboard/);
    assert.deepEqual(listNetnsNames().filter((n) => !before.includes(n) && n.startsWith('nm-')), []);
  });
});
