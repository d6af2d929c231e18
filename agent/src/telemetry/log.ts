// The agent's structured log: pino JSON lines on stdout. One line per closed connection (src, dst,
// workloads, bytes, duration, reason); lifecycle and errors with their MESH_ERR_* code.

import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(nodeName: string, level = process.env.NODEMESH_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { node: nodeName }, timestamp: pino.stdTimeFunctions.isoTime });
}
