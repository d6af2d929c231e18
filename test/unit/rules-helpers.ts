// Helpers of the rules and dashboard unit tests: the metric names the product registers (agent and
// controller registries built as the processes build them, nothing scraped) and the metric names a
// PromQL expression reads (selectors, not functions, labels, keywords or template variables).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { AgentMetrics, LATENCY_BUCKETS_MS, registerGoldenMetrics, registerRouteStats, type GoldenSnapshot } from '../../agent/src/telemetry/index.js';
import type { ConnEvent } from '../../native/index.js';
import { IdentityMetrics } from '../../agent/src/identity/metrics.js';
import { ControllerMetrics } from '../../controller/src/server/metrics.js';
import { CaMetrics } from '../../controller/src/ca/metrics.js';

/**
 * The agent's and the controller's registries, built as the processes build them; with `samples`,
 * every labelled family gets one sample (a golden series, a closed connection, a push), so a linter
 * that only looks at families with samples sees them all.
 */
export function productRegistries(samples = false): { agent: Registry; controller: Registry } {
  const agent = new AgentMetrics('node-a');
  const golden: GoldenSnapshot = {
    bucketsMs: LATENCY_BUCKETS_MS, maxSeries: 100, seriesOverflow: 0,
    series: [{
      labels: { direction: 'outbound', src_namespace: 'shop', src_workload: 'web', dst_namespace: 'shop', dst_workload: 'cart', route_name: 'shop/r', route_kind: 'HTTPRoute', backend: 'shop/cart', tls: 'true' },
      requests: 2, responses: [{ status_code: '200', classification: 'success', grpc_status: '', count: 2 }],
      latency: { count: 2, sumMs: 3.5, counts: LATENCY_BUCKETS_MS.map((_, i) => (i === 4 ? 2 : 0)).concat([0]) },
    }],
  };
  registerGoldenMetrics(agent.registry, () => (samples ? golden : undefined));
  registerRouteStats(agent.registry, () => (samples ? [{ route: 'shop/r', retries: 1, retryBudgetExhausted: 1, mirrorSent: 1, mirrorFailed: 0, mirrorSkipped: 0 }] : []));
  agent.setHttpAuthzSource(() => (samples ? [{ policy: 'shop/p', allow: 1, deny: 1 }] : []));
  const identity = new IdentityMetrics(agent.registry);
  const controller = new ControllerMetrics();
  new CaMetrics(controller.registry);
  if (samples) {
    const e: ConnEvent = {
      kind: 'open', id: 1, direction: 'inbound', srcIp: '10.0.1.5', srcPort: 40000, dstIp: '10.0.2.7', dstPort: 9000,
      bytesUp: 10, bytesDown: 20, durationUs: 1500, reason: '', service: '', upstreamIp: '', upstreamPort: 0,
      srcIdentity: 'spiffe://cluster.local/ns/a/sa/c', dstIdentity: 'spiffe://cluster.local/ns/b/sa/s', tls: true, policy: 'b/allow', audit: 'b/audit',
    };
    const l = AgentMetrics.labels(undefined, e);
    agent.record(e, l);
    agent.record({ ...e, kind: 'close', reason: 'MESH_ERR_AUTHZ_DENIED' }, l);
    agent.podCaptureFailed.set({ namespace: 'shop', pod: 'web' }, 1);
    identity.expiry.set({ identity: e.srcIdentity }, 1_900_000_000);
    controller.pushes.inc({ type: 'full' });
    controller.rejectedStreams.inc({ reason: 'bad_token' });
    controller.pushLatency.observe(0.003);
  }
  return { agent: agent.registry, controller: controller.registry };
}

/** Every series name the agent's and the controller's /metrics can carry (histograms with their suffixes). */
export async function exportedMetricNames(): Promise<Set<string>> {
  const { agent, controller } = productRegistries();
  const names = new Set<string>();
  for (const r of [agent, controller]) {
    for (const m of await r.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    }
  }
  return names;
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names read by a PromQL expression (Grafana variables like $namespace are removed first). */
export function metricsOfExpr(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\$\{?\w+\}?/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const out = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = stripped.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0].toLowerCase())) continue;
    out.add(m[0]);
  }
  return [...out];
}

export interface DashboardTarget { readonly refId: string; readonly expr: string; readonly legendFormat?: string }
export interface DashboardPanel { readonly id: number; readonly title: string; readonly type: string; readonly datasource: { readonly uid: string }; readonly gridPos: { readonly w: number; readonly h: number }; readonly targets: readonly DashboardTarget[] }
export interface DashboardVariable { readonly name: string; readonly type: string; readonly query?: string | { readonly query: string }; readonly regex?: string }
export interface Dashboard { readonly uid: string; readonly title: string; readonly panels: readonly DashboardPanel[]; readonly templating: { readonly list: readonly DashboardVariable[] } }

/** The dashboard JSON files of `dir`, parsed. */
export function loadDashboards(dir: string): { file: string; json: Dashboard }[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((file) => ({ file, json: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Dashboard }));
}
