// The Grafana dashboards in deploy/dashboards (JSON users import; Grafana itself is not installed):
// well-formed, templated on the Prometheus datasource and namespace/workload/route, and reading only
// metrics the product exports. test/netns/prometheus.test.ts runs every panel against a real Prometheus.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT } from '../../native/index.js';
import { exportedMetricNames, loadDashboards, metricsOfExpr } from './rules-helpers.js';

const DIR = path.join(ROOT, 'deploy', 'dashboards');

test('three dashboards: overview, workload, route, with their template variables', () => {
  const ds = loadDashboards(DIR);
  assert.deepEqual(ds.map((d) => d.file).sort(), ['nodemesh-overview.json', 'nodemesh-route.json', 'nodemesh-workload.json']);
  const vars = Object.fromEntries(ds.map((d) => [d.json.uid, d.json.templating.list.map((v) => v.name)]));
  assert.deepEqual(vars, {
    'nodemesh-overview': ['datasource', 'namespace'],
    'nodemesh-workload': ['datasource', 'namespace', 'workload'],
    'nodemesh-route': ['datasource', 'namespace', 'route'],
  });
  for (const d of ds) {
    assert.ok(d.json.title.startsWith('nodemesh / '), d.file);
    const ids = d.json.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${d.file}: panel ids repeat`);
    for (const p of d.json.panels) {
      assert.equal(p.datasource.uid, '${datasource}', `${d.file} "${p.title}": datasource must be the template variable`);
      assert.ok(p.targets.length > 0 && p.targets.every((t) => t.expr.trim().length > 0), `${d.file} "${p.title}": no query`);
      assert.ok(p.gridPos.w > 0 && p.gridPos.h > 0, `${d.file} "${p.title}": no size`);
    }
  }
});

test('every panel and variable reads only metrics the agent or the controller exports', async () => {
  const exported = await exportedMetricNames();
  for (const d of loadDashboards(DIR)) {
    const exprs = [
      ...d.json.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
      ...d.json.templating.list.flatMap((v) => (v.query && typeof v.query === 'object' ? [{ where: `variable ${v.name}`, expr: v.query.query.replace(/^label_values\((.*),\s*\w+\)$/s, '$1').replace(/^query_result\((.*)\)$/s, '$1') }] : [])),
    ];
    for (const { where, expr } of exprs) {
      const names = metricsOfExpr(expr);
      assert.ok(names.length > 0, `${d.file} ${where}: reads no metric (${expr})`);
      for (const m of names) assert.ok(exported.has(m), `${d.file} ${where} reads ${m}, which nothing exports`);
    }
  }
});
