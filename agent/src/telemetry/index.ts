// Public surface of telemetry/: metrics registry and structured logs of the agent.
export { AgentMetrics, LATENCY_BUCKETS_MS, type ConnLabels, type HttpAuthzCount } from './metrics.js';
export { registerGoldenMetrics, registerRouteStats, GOLDEN_LABELS, type RouteStatRow, type GoldenSnapshot, type GoldenSeries, type GoldenSource } from './golden.js';
export { createLogger, type Logger } from './log.js';
