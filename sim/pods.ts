// Playing kubelet for one pod: its environment (the pod's env plus POD_NAME, POD_NAMESPACE,
// POD_IP, NODE_NAME), starting spec.containers[0].command in its netns with output to its log file,
// and deciding when a set of started pods is ready (declared TCP ports listen, nobody exited).

import { appendFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { MeshError } from '../common/errors.js';
import { sameProcess, sleep, tail } from './exec.js';
import type { PodPlan } from './plan.js';
import { exitCode, procRef, spawnInNetns, waitForPorts } from './procs.js';
import type { PodStatusRecord } from './state.js';

export function podEnv(p: PodPlan): Record<string, string> {
  return { ...p.env, POD_NAME: p.name, POD_NAMESPACE: p.namespace, POD_IP: p.ip, NODE_NAME: p.node };
}

export function logName(p: Pick<PodPlan, 'namespace' | 'name'>): string {
  return `${p.namespace}_${p.name}.log`;
}

export function podRecord(p: PodPlan, log: string): PodStatusRecord {
  return { key: p.key, namespace: p.namespace, name: p.name, node: p.node, ip: p.ip, netns: p.netns, hostVeth: p.hostVeth, log, env: podEnv(p) };
}

export interface StartedPod {
  readonly plan: PodPlan;
  readonly record: PodStatusRecord;
  readonly child: ChildProcess;
  readonly startedAt: number;
  /** exit code once the process has exited */
  exit?: number;
}

/** Starts the pod's command (if it has one) and records its pid in `record.proc`. */
export function startPod(p: PodPlan, record: PodStatusRecord): StartedPod | undefined {
  if (!p.command || p.command.length === 0) return undefined;
  appendFileSync(record.log, `# ${new Date().toISOString()} nodemesh sim: starting ${JSON.stringify(p.command)} in ${p.netns}\n`);
  const child = spawnInNetns(p.netns, p.command, { log: record.log, env: record.env });
  const started: StartedPod = { plan: p, record, child, startedAt: Date.now() };
  child.on('error', (e) => { appendFileSync(record.log, `# nodemesh sim: could not start: ${e.message}\n`); });
  child.on('exit', (code, sig) => { started.exit = exitCode(code, sig); });
  record.proc = procRef(child);
  return started;
}

/**
 * Waits until every started pod listens on its declared TCP ports and is still running a moment
 * after its start; the error names the pod and shows its log.
 */
export async function waitPodsReady(pods: readonly StartedPod[], timeoutMs: number, graceMs = 300): Promise<void> {
  await Promise.all(pods.map(async (s) => {
    const ports = s.plan.ports.filter((p) => p.protocol === 'TCP').map((p) => p.containerPort);
    if (ports.length && s.record.proc) await waitForPorts(s.record.proc, ports, `pod ${s.plan.key}`, s.record.log, timeoutMs);
    const wait = s.startedAt + graceMs - Date.now();
    if (wait > 0) await sleep(wait);
    if (s.record.proc && !sameProcess(s.record.proc.pid, s.record.proc.startTime)) {
      await sleep(20); // let the exit event land so the code is known
      const code = s.exit !== undefined ? ` with code ${s.exit}` : '';
      throw new MeshError('MESH_ERR_CLUSTER', `pod ${s.plan.key} exited${code} right after starting; its log ${s.record.log} ends with:\n${tail(s.record.log)}\nfix spec.containers[0].command (pods must keep running)`);
    }
  }));
}
