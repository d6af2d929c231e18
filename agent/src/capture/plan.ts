// Pure planning for capture: compares what the node view wants (enrolled pod IPs, node addresses,
// interfaces) with what the kernel holds, and lists the operations that close the gap.
// Unit-tested with tables; reconciler.ts executes the plan against the real datapath.

import { WL_CAPTURE } from '../../../common/layout.js';

export interface KernelState {
  readonly workloads: ReadonlyMap<string, { index: number; flags: number }>;
  readonly localAddrs: ReadonlySet<string>;
  /** interfaces that carry our link */
  readonly attached: ReadonlySet<string>;
}

export interface Desired {
  readonly workloads: ReadonlyMap<string, number>; // ip -> index
  readonly localAddrs: ReadonlySet<string>;
  readonly interfaces: ReadonlySet<string>;
}

export type CaptureOp =
  | { readonly op: 'attach'; readonly ifname: string }
  | { readonly op: 'detach'; readonly ifname: string }
  | { readonly op: 'set-local'; readonly ip: string }
  | { readonly op: 'delete-local'; readonly ip: string }
  | { readonly op: 'set-workload'; readonly ip: string; readonly index: number }
  | { readonly op: 'delete-workload'; readonly ip: string };

/**
 * Order matters for safety: hooks and local addresses first, then new workloads, deletions last,
 * so a pod never has its map entry before its interface carries the hook when both are new.
 */
export function planCapture(want: Desired, have: KernelState): CaptureOp[] {
  const ops: CaptureOp[] = [];
  for (const i of [...want.interfaces].sort()) if (!have.attached.has(i)) ops.push({ op: 'attach', ifname: i });
  for (const ip of [...want.localAddrs].sort()) if (!have.localAddrs.has(ip)) ops.push({ op: 'set-local', ip });
  for (const [ip, index] of [...want.workloads].sort()) {
    const cur = have.workloads.get(ip);
    if (!cur || cur.index !== index || cur.flags !== WL_CAPTURE) ops.push({ op: 'set-workload', ip, index });
  }
  for (const ip of [...have.workloads.keys()].sort()) if (!want.workloads.has(ip)) ops.push({ op: 'delete-workload', ip });
  for (const ip of [...have.localAddrs].sort()) if (!want.localAddrs.has(ip)) ops.push({ op: 'delete-local', ip });
  for (const i of [...have.attached].sort()) if (!want.interfaces.has(i)) ops.push({ op: 'detach', ifname: i });
  return ops;
}
