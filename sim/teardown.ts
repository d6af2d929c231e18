// Removing simulated clusters: BPF pin dirs (through the native cleanupPins, or a plain recursive
// delete when the addon is not built), and `downAll`, which clears whatever any crashed run left:
// recorded processes, every nm-* netns, every pin dir under /sys/fs/bpf/nodemesh, the state dirs.

import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cleanupPins } from '../native/index.js';
import { listNetns } from './exec.js';
import { deleteNetns, killNetnsProcesses } from './netns.js';
import { PIN_ROOT } from './plan.js';
import { killSync, stopProcess } from './procs.js';
import { listStateDirs, readStatus, stateDir, type ProcRef } from './state.js';

/** Removes pin dirs (links detach, maps free). Returns the dirs that existed. Never throws. */
export function removePins(dirs: readonly string[]): string[] {
  const removed: string[] = [];
  for (const d of dirs) {
    if (!d.startsWith(`${PIN_ROOT}/`) || !existsSync(d)) continue;
    try { cleanupPins(d); } catch { /* addon missing or pins half-gone: the plain delete below does it */ }
    try { rmSync(d, { recursive: true, force: true }); } catch { /* reported by the caller's check */ }
    removed.push(d);
  }
  try { if (readdirSync(PIN_ROOT).length === 0) rmdirSync(PIN_ROOT); } catch { /* in use or absent */ }
  return removed;
}

export interface DownReport {
  readonly processes: number;
  readonly netns: readonly string[];
  readonly pinDirs: readonly string[];
  readonly stateDirs: readonly string[];
  /** what could not be removed (empty when everything is gone) */
  readonly left: readonly string[];
  /** where the logs were moved (SimCluster.down({ keepLogs: true }) or NODEMESH_KEEP_LOGS=1) */
  readonly logsKept?: string;
}

/**
 * Removes leftovers of simulated clusters: all of them, or only `clusterId`'s. Idempotent: a second
 * run reports nothing removed.
 */
export async function downAll(opts: { clusterId?: string } = {}): Promise<DownReport> {
  const ids = opts.clusterId ? [opts.clusterId] : listStateDirs();
  const statuses = ids.map(readStatus).filter((s) => s !== undefined);
  const refs: ProcRef[] = [];
  for (const st of statuses) {
    for (const n of st.nodes) if (n.agent) refs.push(n.agent);
    if (st.controller) refs.push(st.controller);
    if (st.prometheus) refs.push(st.prometheus);
    for (const p of st.pods) if (p.proc) refs.push(p.proc);
  }
  let processes = 0;
  await Promise.all(refs.map(async (r) => { processes++; await stopProcess(r, 'SIGTERM', 3000); }));

  const prefix = opts.clusterId ? `nm-${opts.clusterId}-` : 'nm-';
  const names = listNetns().filter((n) => n.startsWith(prefix));
  processes += await killNetnsProcesses(names);
  const netns = await deleteNetns(names);

  let pinDirs: string[] = [];
  try {
    const all = readdirSync(PIN_ROOT).map((d) => path.join(PIN_ROOT, d));
    pinDirs = removePins(opts.clusterId ? all.filter((d) => path.basename(d).startsWith(`${opts.clusterId}-`)) : all);
  } catch { /* no pin root */ }

  const stateDirs: string[] = [];
  for (const id of ids) {
    const d = stateDir(id);
    if (!existsSync(d)) continue;
    rmSync(d, { recursive: true, force: true });
    stateDirs.push(d);
  }

  const left = [...listNetns().filter((n) => n.startsWith(prefix)), ...pinDirs.filter((d) => existsSync(d)), ...stateDirs.filter((d) => existsSync(d))];
  return { processes, netns, pinDirs, stateDirs, left };
}

/** Synchronous best-effort kill of recorded processes (exit handlers). */
export function killAllSync(refs: readonly (ProcRef | undefined)[]): void {
  for (const r of refs) killSync(r);
}
