// The simulated cluster's Prometheus setup, without root: the file_sd target groups per cluster
// shape, and prometheus.yml accepted by `promtool check config` (skipped without promtool, failed
// under CI=true) with the rules file it names.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RULES_FILE, prometheusConfig, targetGroups } from '../../../sim/index.js';
import { prometheusPaths, writeTargets } from '../../../sim/prometheus.js';

const nodes = [{ name: 'node-a', uplinkIp: '10.199.0.1' }, { name: 'node-b', uplinkIp: '10.199.0.2' }];

test('target groups: the controller (when there is one) and one agent per node, labelled', () => {
  const rows: [string | undefined, unknown[]][] = [
    ['10.199.0.254:15014', [
      { targets: ['10.199.0.254:15014'], labels: { component: 'controller' } },
      { targets: ['10.199.0.1:15020'], labels: { component: 'agent', node: 'node-a' } },
      { targets: ['10.199.0.2:15020'], labels: { component: 'agent', node: 'node-b' } },
    ]],
    [undefined, [
      { targets: ['10.199.0.1:15020'], labels: { component: 'agent', node: 'node-a' } },
      { targets: ['10.199.0.2:15020'], labels: { component: 'agent', node: 'node-b' } },
    ]],
  ];
  for (const [controller, want] of rows) assert.deepEqual(targetGroups(nodes, controller), want);
  assert.deepEqual(targetGroups([], undefined), []);
});

test('prometheus.yml: interval, honor_labels, file_sd on the targets file, the deploy rules; promtool check config', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-promcfg-'));
  try {
    const p = prometheusPaths(dir);
    writeTargets(p, nodes, '10.199.0.254:15014');
    assert.equal(JSON.parse(readFileSync(p.targets, 'utf8')).length, 3);
    const text = prometheusConfig(p, 'abc123', 2);
    assert.match(text, /scrape_interval: 2s/);
    assert.match(text, /honor_labels: true/);
    assert.ok(text.includes(JSON.stringify(p.targets)) && text.includes(JSON.stringify(RULES_FILE)));
    writeFileSync(p.config, text);
    const r = spawnSync('promtool', ['check', 'config', p.config], { encoding: 'utf8' });
    if (r.error) {
      if (process.env.CI === 'true') throw new Error('promtool is missing; npm run setup installs the Debian package prometheus');
      t.skip('promtool not installed');
      return;
    }
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
