// Node's process metrics (prom-client's defaults) under a component prefix, minus the three gauges
// prom-client names `*_total` (nodejs_active_{handles,requests,resources}_total), which promtool
// rejects as non-counters; their per-type gauges without the suffix stay (sum them for the total).

import { collectDefaultMetrics, type DefaultMetricsCollectorConfiguration, type Registry } from 'prom-client';

const TOTAL_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** prom-client's default metrics on `registry` with `prefix`; `opts` pass through. The event-loop
 *  lag is sampled once a second, not every 10 ms: prom-client's 10 ms libuv timer alone costs an
 *  idle process ~6 ms of CPU per second (bench/README.md, agent footprint). */
export function registerProcessMetrics(registry: Registry, prefix: string, opts: Omit<DefaultMetricsCollectorConfiguration<'text/plain; version=0.0.4; charset=utf-8'>, 'register' | 'prefix'> = {}): void {
  collectDefaultMetrics({ eventLoopMonitoringPrecision: 1000, ...opts, register: registry, prefix });
  for (const name of TOTAL_GAUGES) registry.removeSingleMetric(`${prefix}${name}`);
}
