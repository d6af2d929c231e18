// Helpers of the rules and dashboard unit tests: the metric names the product registers (agent and
// controller registries built as the processes build them, nothing scraped) and the metric names a
// PromQL expression reads (selectors, not functions, labels, keywords or template variables).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { AgentMetrics, registerGoldenMetrics, registerRouteStats } from '../../agent/src/telemetry/index.js';
import { IdentityMetrics } from '../../agent/src/identity/metrics.js';
import { ControllerMetrics } from '../../controller/src/server/metrics.js';
import { CaMetrics } from '../../controller/src/ca/metrics.js';

/** Every series name the agent's and the controller's /metrics can carry (histograms with their suffixes). */
export async function exportedMetricNames(): Promise<Set<string>> {
  const agent = new AgentMetrics('node-a');
  registerGoldenMetrics(agent.registry, () => undefined);
  registerRouteStats(agent.registry, () => []);
  new IdentityMetrics(agent.registry);
  const controller = new ControllerMetrics();
  new CaMetrics(controller.registry);
  const names = new Set<string>();
  for (const r of [agent.registry, controller.registry] as Registry[]) {
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
