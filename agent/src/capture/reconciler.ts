// Drives the BPF datapath toward the node view: attaches the steering program to every interface
// of the node, keeps the workload and local-address maps equal to the view, and reports per pod
// whether its capture is really in place (and why not). Failures are kept, reported and retried.

import { WL_CAPTURE } from '../../../common/layout.js';
import type { Datapath } from '../../../native/index.js';
import type { NodeView } from '../state/index.js';
import { enrolledByIp } from '../state/index.js';
import { planCapture, type CaptureOp } from './plan.js';
import { readInterfaces, readLocalAddrs, readRoutes, routeInterface } from './netinfo.js';

export interface InterfaceStatus { readonly name: string; readonly attached: boolean; readonly error?: string; readonly failures: number }

export interface PodCaptureStatus {
  readonly key: string;
  readonly ip: string;
  readonly state: 'captured' | 'failed';
  readonly interface?: string;
  readonly error?: string;
}

export interface CaptureStatus {
  readonly interfaces: readonly InterfaceStatus[];
  readonly pods: readonly PodCaptureStatus[];
  readonly lastError?: string;
  readonly reconciles: number;
}

export class CaptureReconciler {
  readonly #dp: Datapath;
  #ifErrors = new Map<string, { error: string; failures: number }>();
  #status: CaptureStatus = { interfaces: [], pods: [], reconciles: 0 };

  constructor(dp: Datapath) {
    this.#dp = dp;
  }

  get status(): CaptureStatus {
    return this.#status;
  }

  /** One pass; never throws: every failure is recorded in status and retried on the next pass. */
  reconcile(view: NodeView): CaptureStatus {
    let lastError: string | undefined;
    const interfaces = new Set(readInterfaces());
    const wantWl = new Map<string, number>();
    for (const [ip, w] of enrolledByIp(view)) wantWl.set(ip, w.index);
    let have;
    try {
      have = {
        workloads: new Map(this.#dp.listWorkloads().map((e) => [e.ip, { index: e.index, flags: e.flags }])),
        localAddrs: new Set(this.#dp.listLocalAddrs()),
        attached: new Set(this.#dp.attachedInterfaces().filter((i) => !this.#ifErrors.has(i))),
      };
    } catch (e) {
      lastError = (e as Error).message;
      this.#status = { ...this.#status, lastError, reconciles: this.#status.reconciles + 1 };
      return this.#status;
    }
    const ops = planCapture({ workloads: wantWl, localAddrs: new Set(view.localAddrs), interfaces }, have);
    for (const op of ops) {
      try {
        this.#apply(op);
        if (op.op === 'attach' || op.op === 'detach') this.#ifErrors.delete(op.ifname);
      } catch (e) {
        const msg = (e as Error).message;
        lastError = msg;
        if (op.op === 'attach') {
          const prev = this.#ifErrors.get(op.ifname);
          this.#ifErrors.set(op.ifname, { error: msg, failures: (prev?.failures ?? 0) + 1 });
        }
      }
    }
    for (const name of this.#ifErrors.keys()) if (!interfaces.has(name)) this.#ifErrors.delete(name);
    const ifStatus: InterfaceStatus[] = [...interfaces].sort().map((name) => {
      const err = this.#ifErrors.get(name);
      return err ? { name, attached: false, error: err.error, failures: err.failures } : { name, attached: true, failures: 0 };
    });
    this.#status = {
      interfaces: ifStatus,
      pods: this.#podStatus(view, ifStatus),
      ...(lastError ? { lastError } : {}),
      reconciles: this.#status.reconciles + 1,
    };
    return this.#status;
  }

  #apply(op: CaptureOp): void {
    switch (op.op) {
      case 'attach': this.#dp.attach(op.ifname); break;
      case 'detach': this.#dp.detach(op.ifname); break;
      case 'set-local': this.#dp.setLocalAddr(op.ip); break;
      case 'delete-local': this.#dp.deleteLocalAddr(op.ip); break;
      case 'set-workload': this.#dp.setWorkload(op.ip, op.index, WL_CAPTURE); break;
      case 'delete-workload': this.#dp.deleteWorkload(op.ip); break;
    }
  }

  /** A pod is captured only if its map entry exists and the interface routing to it carries the hook. */
  #podStatus(view: NodeView, ifs: readonly InterfaceStatus[]): PodCaptureStatus[] {
    const routes = readRoutes();
    const inMap = new Set(this.#dp.listWorkloads().map((e) => e.ip));
    const byName = new Map(ifs.map((i) => [i.name, i]));
    const out: PodCaptureStatus[] = [];
    for (const w of view.local) {
      if (!w.enrolled || !w.ip) continue;
      const iface = routeInterface(routes, w.ip);
      const st = iface ? byName.get(iface) : undefined;
      let error: string | undefined;
      if (!iface) error = `no route to ${w.ip} in the node (the pod's veth is missing)`;
      else if (!st) error = `interface ${iface} not found`;
      else if (!st.attached) error = `attach to ${iface} failed: ${st.error ?? 'unknown'}`;
      else if (!inMap.has(w.ip)) error = `${w.ip} is not in the BPF workload map`;
      out.push({ key: w.key, ip: w.ip, state: error ? 'failed' : 'captured', ...(iface ? { interface: iface } : {}), ...(error ? { error } : {}) });
    }
    return out;
  }
}

export { readLocalAddrs };
