// The Prometheus rules in deploy/prometheus: promtool check rules and promtool test rules
// (tests/*.yaml) on the plain file, the PrometheusRule kept equal to it (regenerate with
// UPDATE_PROMETHEUSRULE=1), and every metric the rules read is one the product registers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from '../../native/index.js';
import { exportedMetricNames, metricsOfExpr, productRegistries } from './rules-helpers.js';

const DIR = path.join(ROOT, 'deploy', 'prometheus');
const RULES = path.join(DIR, 'rules.yaml');
const PROMETHEUS_RULE = path.join(DIR, 'prometheusrule.yaml');

/** promtool is the Debian prometheus package's; under CI its absence is a failure, not a skip. */
function promtoolGate(): string | false {
  const r = spawnSync('promtool', ['--version'], { stdio: 'ignore' });
  if (!r.error) return false;
  if (process.env.CI === 'true') throw new Error('promtool is missing; npm run setup installs the Debian package prometheus');
  return 'promtool not installed (npm run setup installs Debian prometheus)';
}
const skip = promtoolGate();

interface Rule { readonly record?: string; readonly alert?: string; readonly expr: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> }
interface Group { readonly name: string; readonly rules: readonly Rule[] }

const HEADER = `# GENERATED from rules.yaml (same groups) for kube-prometheus / prometheus-operator users:
#   kubectl apply -f deploy/prometheus/prometheusrule.yaml
# The labels are what kube-prometheus' and kube-prometheus-stack's default ruleSelector match; change
# them to your Prometheus' ruleSelector. Do not edit by hand: edit rules.yaml and run
#   UPDATE_PROMETHEUSRULE=1 node --test dist/test/unit/rules.test.js
`;

/** The PrometheusRule object carrying the plain file's groups. */
export function prometheusRuleOf(groups: readonly Group[]): object {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'nodemesh',
      namespace: 'nodemesh-system',
      labels: { 'app.kubernetes.io/name': 'nodemesh', 'app.kubernetes.io/part-of': 'nodemesh', prometheus: 'k8s', role: 'alert-rules', release: 'kube-prometheus-stack' },
    },
    spec: { groups },
  };
}

const groups = (): Group[] => (parse(readFileSync(RULES, 'utf8')) as { groups: Group[] }).groups;

test('the PrometheusRule carries exactly the groups of rules.yaml', () => {
  const want = `${HEADER}${stringify(prometheusRuleOf(groups()), { lineWidth: 0 })}`;
  if (process.env.UPDATE_PROMETHEUSRULE === '1') writeFileSync(PROMETHEUS_RULE, want);
  const got = readFileSync(PROMETHEUS_RULE, 'utf8');
  const obj = parse(got) as { kind: string; spec: { groups: Group[] } };
  assert.equal(obj.kind, 'PrometheusRule');
  assert.deepEqual(obj.spec.groups, groups(), 'prometheusrule.yaml drifted from rules.yaml: run UPDATE_PROMETHEUSRULE=1 node --test dist/test/unit/rules.test.js');
  assert.equal(got, want, 'prometheusrule.yaml is not the generated text: run UPDATE_PROMETHEUSRULE=1 node --test dist/test/unit/rules.test.js');
});

test('the rules cover the alerts the mesh needs and record success rate and latency quantiles', () => {
  const rules = groups().flatMap((g) => g.rules);
  const alerts = rules.flatMap((r) => (r.alert ? [r.alert] : []));
  for (const a of ['NodemeshCertificateExpiringSoon', 'NodemeshCAIssuerExpiringSoon', 'NodemeshConfigNacked', 'NodemeshPodCaptureFailed', 'NodemeshAuthorizationDenials', 'NodemeshWorkloadErrorRate', 'NodemeshRouteErrorRate']) {
    assert.ok(alerts.includes(a), `alert ${a} missing`);
  }
  const records = rules.flatMap((r) => (r.record ? [r.record] : []));
  for (const level of ['workload', 'route']) {
    for (const r of ['response_total:rate1m', 'response_success:ratio_rate1m', 'response_latency_seconds:p50_rate1m', 'response_latency_seconds:p95_rate1m', 'response_latency_seconds:p99_rate1m']) {
      assert.ok(records.includes(`nodemesh_${level}:${r}`), `recording rule nodemesh_${level}:${r} missing`);
    }
  }
  for (const r of rules) {
    if (!r.alert) continue;
    assert.ok(r.labels?.severity, `${r.alert}: no severity label`);
    assert.ok(r.annotations?.summary && r.annotations.description, `${r.alert}: summary and description are what the receiver shows`);
  }
});

test('every metric the rules read is exported by the agent or the controller', async () => {
  const exported = await exportedMetricNames();
  const records = new Set(groups().flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
  for (const r of groups().flatMap((g) => g.rules)) {
    for (const m of metricsOfExpr(r.expr)) assert.ok(exported.has(m) || records.has(m), `${r.record ?? r.alert} reads ${m}, which nothing exports`);
  }
});

test('promtool check rules on rules.yaml', { skip }, () => {
  const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: \d+ rules found/);
});

test('promtool test rules: every tests/*.yaml', { skip }, () => {
  const files = readdirSync(path.join(DIR, 'tests')).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length >= 2, `only ${files.join(', ')}`);
  const r = spawnSync('promtool', ['test', 'rules', ...files.map((f) => path.join('tests', f))], { cwd: DIR, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((r.stdout.match(/SUCCESS/g) ?? []).length, files.length, r.stdout);
});

test('promtool check metrics on the agent\'s and the controller\'s registries (names, units, HELP)', { skip }, async () => {
  const { agent, controller } = productRegistries(true);
  for (const [what, r] of [['agent', agent], ['controller', controller]] as const) {
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: await r.metrics(), encoding: 'utf8' });
    assert.equal(lint.status, 0, `${what}: ${lint.stdout}${lint.stderr}`);
  }
  // the linter saw the families that need samples to be checked
  const text = await agent.metrics();
  for (const m of ['response_latency_seconds_bucket', 'tcp_connection_duration_seconds_bucket', 'inbound_tcp_authz_deny_total', 'inbound_http_authz_deny_total', 'nodemesh_pod_capture_failed']) assert.match(text, new RegExp(`^${m}\\{`, 'm'), m);
  assert.match(await controller.metrics(), /^nodemesh_controller_push_latency_seconds_bucket\{/m);
});
