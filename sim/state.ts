// On-disk state of simulated clusters: /run/nodemesh/clusters/<clusterId>/status.json (nodes, pods,
// netns, pids with their start times) next to the run dir (logs, rendered manifests). Written while
// a cluster builds and runs, read by `cluster exec` and by `cluster down` after a crash.

import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MeshError } from '../common/errors.js';
import { sameProcess } from './exec.js';

/** Overridable for tests; the default lives on tmpfs so a reboot clears it. */
export function stateRoot(): string {
  return process.env.NODEMESH_STATE_DIR ?? '/run/nodemesh/clusters';
}

export function stateDir(clusterId: string): string {
  return path.join(stateRoot(), clusterId);
}

export interface ProcRef { readonly pid: number; readonly startTime?: number }

export interface NodeStatus {
  readonly name: string;
  readonly netns: string;
  readonly uplinkIp: string;
  readonly podCidr: string;
  readonly gateway: string;
  readonly pinDir: string;
  readonly adminSocket: string;
  readonly agentLog: string;
  agent?: ProcRef;
}

export interface PodStatusRecord {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly ip: string;
  readonly netns: string;
  readonly hostVeth: string;
  readonly log: string;
  readonly env: Readonly<Record<string, string>>;
  proc?: ProcRef;
}

export interface ClusterStatus {
  readonly clusterId: string;
  readonly createdAt: string;
  /** the process that owns the cluster (cluster up, a test, the demo) */
  readonly owner: ProcRef;
  readonly manifestsDir: string;
  readonly runDir: string;
  readonly renderedDir: string;
  readonly fabricNetns: string;
  readonly agents: boolean;
  phase: 'building' | 'running' | 'stopping';
  nodes: NodeStatus[];
  pods: PodStatusRecord[];
  /** the controller process, when the cluster runs one */
  controller?: ProcRef;
  /** the cluster's Prometheus (UpOptions.prometheus) */
  prometheus?: ProcRef;
}

export function writeStatus(st: ClusterStatus): void {
  const dir = stateDir(st.clusterId);
  mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, '.status.json.tmp');
  writeFileSync(tmp, `${JSON.stringify(st, null, 2)}\n`);
  renameSync(tmp, path.join(dir, 'status.json'));
}

export function readStatus(clusterId: string): ClusterStatus | undefined {
  try {
    return JSON.parse(readFileSync(path.join(stateDir(clusterId), 'status.json'), 'utf8')) as ClusterStatus;
  } catch {
    return undefined;
  }
}

/** Cluster ids that have a state dir, whether or not their owner still runs. */
export function listStateDirs(): string[] {
  try {
    return readdirSync(stateRoot(), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return [];
  }
}

export function ownerAlive(st: ClusterStatus): boolean {
  return sameProcess(st.owner.pid, st.owner.startTime);
}

/** The running cluster to act on: the one named, or the only one running. */
export function findRunningCluster(clusterId?: string): ClusterStatus {
  if (clusterId) {
    const st = readStatus(clusterId);
    if (!st) throw new MeshError('MESH_ERR_CLUSTER', `no cluster "${clusterId}" under ${stateRoot()}; list them with "nodemesh cluster exec" without --cluster`);
    if (!ownerAlive(st)) throw new MeshError('MESH_ERR_CLUSTER', `cluster ${clusterId} is not running (its owner pid ${st.owner.pid} is gone); run "nodemesh cluster down" to remove its leftovers`);
    return st;
  }
  const all = listStateDirs().map(readStatus).filter((s): s is ClusterStatus => s !== undefined);
  const running = all.filter(ownerAlive);
  if (running.length === 1) return running[0]!;
  if (running.length === 0) {
    const stale = all.length ? ` (stale state of ${all.map((s) => s.clusterId).join(', ')}: run "nodemesh cluster down")` : '';
    throw new MeshError('MESH_ERR_CLUSTER', `no simulated cluster is running${stale}; start one with "nodemesh cluster up --manifests DIR"`);
  }
  throw new MeshError('MESH_ERR_CLUSTER', `${running.length} clusters are running (${running.map((s) => s.clusterId).join(', ')}); pick one with --cluster ID`);
}
