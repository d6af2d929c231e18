// Node's process metrics (prom-client's defaults) under a component prefix, minus the three gauges
// prom-client names `*_total` (nodejs_active_{handles,requests,resources}_total), which promtool
// rejects as non-counters; their per-type gauges without the suffix stay (sum them for the total).

import { collectDefaultMetrics, type Registry } from 'prom-client';

const TOTAL_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export function registerProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of TOTAL_GAUGES) registry.removeSingleMetric(`${prefix}${name}`);
}
