// Public surface of telemetry/: metrics registry and structured logs of the agent.
export { AgentMetrics, LATENCY_BUCKETS_MS, type ConnLabels } from './metrics.js';
export { createLogger, type Logger } from './log.js';
