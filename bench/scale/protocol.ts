// The messages between the scale benchmark's orchestrator (run.ts) and its child processes
// (controller, agents, memory probe), and the one clock they all stamp with: the wall clock at
// process start plus the monotonic time since (µs resolution, same origin in every process).

import type { ClusterShape } from './generate.js';

/** ms since the epoch with sub-ms resolution; comparable across processes on one machine. */
export const clock = (): number => performance.timeOrigin + performance.now();

export type SourceKind = 'memory' | 'manifests';
export interface NodeCred { readonly node: string; readonly token: string }

export interface Usage {
  readonly rss: number;
  readonly heapUsed: number;
  /** user + system CPU seconds of the whole process since it started */
  readonly cpuSeconds: number;
}

export function usage(): Usage {
  const c = process.cpuUsage();
  return { rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed, cpuSeconds: (c.user + c.system) / 1e6 };
}

// orchestrator → controller child
export type ControllerCmd =
  | { readonly cmd: 'init'; readonly shape: ClusterShape; readonly source: SourceKind; readonly creds: readonly NodeCred[] }
  | { readonly cmd: 'mark'; readonly name: string }
  | { readonly cmd: 'change'; readonly seq: number }
  | { readonly cmd: 'profile'; readonly action: 'start' | 'stop'; readonly file?: string }
  | { readonly cmd: 'ping' }
  | { readonly cmd: 'stop' };

export interface ViewInfo {
  readonly bytes: number;
  readonly workloads: number;
  readonly peers: number;
  readonly services: number;
  readonly endpoints: number;
}

// controller child → orchestrator
export type ControllerReply =
  | { readonly kind: 'ready'; readonly port: number; readonly objects: number; readonly startMs: number; readonly startCpu: number; readonly view: ViewInfo; readonly usage: Usage }
  | { readonly kind: 'mark'; readonly name: string; readonly usage: Usage; readonly peakRss: number }
  | { readonly kind: 'changed'; readonly seq: number; readonly version: number; readonly pod: string; readonly t0: number; readonly tEmit: number; readonly tDone: number }
  | { readonly kind: 'profiled'; readonly file?: string }
  | { readonly kind: 'pong'; readonly remote: number }
  | { readonly kind: 'error'; readonly message: string };

// orchestrator → agents child (and the memory probe)
export type AgentsCmd =
  | { readonly cmd: 'init'; readonly address: string; readonly creds: readonly NodeCred[]; readonly cache: boolean }
  | { readonly cmd: 'connect' }
  | { readonly cmd: 'probe'; readonly cred: NodeCred }
  | { readonly cmd: 'usage' }
  | { readonly cmd: 'ping' }
  | { readonly cmd: 'stop' };

export interface FullReport { readonly node: string; readonly tStart: number; readonly tApplied: number; readonly applyMs: number }
export interface DeltaReport {
  readonly node: string;
  readonly version: number;
  readonly tApplied: number;
  readonly applyMs: number;
  readonly bytes: number;
  /** how many agents of the same process applied this version before this one */
  readonly order: number;
}

export interface MemoryReport {
  readonly views: number;
  readonly endpointsPerView: number;
  readonly peersPerView: number;
  readonly before: Usage;
  readonly after: Usage;
  /** heap of the services map alone (services and their endpoints, no peers or workloads) per view */
  readonly servicesHeap: number;
  /** agent-side CPU per update, measured on bytes taken from a real view: decode + validate + applyUpdate */
  readonly fullDecodeMs: number;
  readonly deltaDecodeMs: number;
  readonly deltaBytes: number;
  /** what ControllerFeed does after every ACK: the whole config as JSON to disk */
  readonly cacheWriteMs: number;
  readonly cacheBytes: number;
}

// agents child → orchestrator
export type AgentsReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'reports'; readonly full: readonly FullReport[]; readonly deltas: readonly DeltaReport[] }
  | { readonly kind: 'probed'; readonly ms: number; readonly bytes: number }
  | { readonly kind: 'usage'; readonly usage: Usage; readonly agents: number }
  | { readonly kind: 'memory'; readonly report: MemoryReport }
  | { readonly kind: 'pong'; readonly remote: number }
  | { readonly kind: 'error'; readonly message: string };

/** Sends to the parent; a child whose parent is gone exits instead of lingering. */
export function toParent(m: ControllerReply | AgentsReply): void {
  if (!process.send || !process.connected) process.exit(1);
  process.send(m);
}

/** Exits when the orchestrator goes away, so no child outlives a crashed run. */
export function exitWithParent(cleanup: () => void): void {
  process.on('disconnect', () => { try { cleanup(); } finally { process.exit(0); } });
}
