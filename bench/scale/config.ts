// Knobs of the controller scale benchmark, from the environment (validated, with the defaults of
// issue 9: 10 000 pods, 1 000 services, 100 nodes, one agent per node).

import type { ClusterShape } from './generate.js';
import type { SourceKind } from './protocol.js';
import { int } from '../env.js';

export interface ScaleConfig {
  readonly shape: ClusterShape;
  /** agents connected (the first AGENTS nodes); NODES by default */
  readonly agents: number;
  /** child processes the agents are spread over */
  readonly agentProcs: number;
  /** measured pod changes, after `warmup` unmeasured ones */
  readonly changes: number;
  readonly warmup: number;
  /** sources measured, in order; the first one is the main figure */
  readonly sources: readonly SourceKind[];
  /** agents connecting alone, one after the other, for the time to a full view */
  readonly solo: number;
  /** NodeConfigs held by the memory probe */
  readonly memViews: number;
  /** agents write their whole config to disk after every ACK (ControllerFeed's cache) */
  readonly agentCache: boolean;
  /** V8 CPU profiles of the controller during the initial sync and the changes */
  readonly profile: boolean;
}

function flag(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new RangeError(`${name}=${raw}: expected 1 or 0`);
}

function sources(env: NodeJS.ProcessEnv): SourceKind[] {
  const raw = env.SOURCES ?? 'memory,manifests';
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of list) if (s !== 'memory' && s !== 'manifests') throw new RangeError(`SOURCES=${raw}: each entry must be memory or manifests`);
  if (list.length === 0) throw new RangeError('SOURCES is empty');
  return list as SourceKind[];
}

export function scaleConfig(env: NodeJS.ProcessEnv = process.env): ScaleConfig {
  const nodes = int(env, 'NODES', 100, 1, 1000);
  const shape: ClusterShape = {
    pods: int(env, 'PODS', 10_000, 1, 200_000),
    services: int(env, 'SERVICES', 1_000, 1, 50_000),
    nodes,
    namespaces: int(env, 'NAMESPACES', 20, 1, 100),
    slices: flag(env, 'SLICES', false),
    spareIps: 32,
  };
  const changes = int(env, 'CHANGES', 20, 1, 1000);
  const warmup = int(env, 'WARMUP', 2, 0, 100);
  if (changes + warmup > nodes * shape.spareIps) throw new RangeError(`CHANGES+WARMUP=${changes + warmup}: at most ${nodes * shape.spareIps} for ${nodes} nodes`);
  return {
    shape,
    agents: int(env, 'AGENTS', nodes, 1, nodes),
    agentProcs: Math.min(int(env, 'AGENTS', nodes, 1, nodes), int(env, 'AGENT_PROCS', 4, 1, 64)),
    changes,
    warmup,
    sources: sources(env),
    solo: int(env, 'SOLO', 10, 1, 100),
    memViews: Math.min(nodes, int(env, 'MEM_VIEWS', 10, 1, 100)),
    agentCache: flag(env, 'AGENT_CACHE', false),
    profile: flag(env, 'PROFILE', false),
  };
}

/** Splits n items into `parts` contiguous ranges whose sizes differ by at most one. */
export function split<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (let i = 0; i < parts; i++) {
    const size = Math.floor(items.length / parts) + (i < items.length % parts ? 1 : 0);
    out.push(items.slice(at, at + size));
    at += size;
  }
  return out;
}
