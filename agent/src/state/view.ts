// The node view: what one agent acts on, derived from its NodeConfig (streamed by the controller or
// computed locally in standalone mode). It says, for every pod of the node, whether it is meshed
// and exactly why not. Pure: the workload indexes are kept stable by the caller's IndexAllocator.

import type { EnrollmentReason, NodeConfig, ServiceCfg } from '../../../controller/src/views/index.js';
import { PORT_INBOUND, PORT_OUTBOUND, PORT_TUNNEL } from '../../../common/layout.js';

export type { EnrollmentReason };

export interface Workload {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly nodeName: string;
  readonly ip?: string;
  readonly serviceAccount: string;
  readonly identity: string;
  readonly enrolled: boolean;
  readonly reason: EnrollmentReason;
  /** stable per pod while it exists; the BPF workload map and the decision table carry it */
  readonly index: number;
}

export interface PeerRef { readonly namespace: string; readonly name: string; readonly identity: string; readonly meshed: boolean; readonly node: string }

export interface NodeView {
  readonly nodeName: string;
  readonly version: number;
  /** this node's pods, meshed or not, sorted by key */
  readonly local: readonly Workload[];
  /** every pod in the cluster with an IP, for labelling peers */
  readonly byIp: ReadonlyMap<string, PeerRef>;
  /** services with a virtual IP, sorted by key */
  readonly services: readonly ServiceCfg[];
  /** node-local addresses (never steered; a connection to one is a direct connect) */
  readonly localAddrs: readonly string[];
  /** the proxy's own listener ports: an original destination on one of them is a loop, denied */
  readonly proxyPorts: readonly number[];
}

/** Hands out small stable integers per key; indexes of removed keys are forgotten. */
export class IndexAllocator {
  #byKey = new Map<string, number>();
  #next = 1;

  indexOf(key: string): number {
    let i = this.#byKey.get(key);
    if (i === undefined) {
      i = this.#next++;
      this.#byKey.set(key, i);
    }
    return i;
  }

  /** Forgets keys not in `live`, so the map does not grow without bound. */
  retain(live: ReadonlySet<string>): void {
    for (const k of this.#byKey.keys()) if (!live.has(k)) this.#byKey.delete(k);
  }
}

export function buildNodeView(
  cfg: NodeConfig,
  nodeName: string,
  localAddrs: readonly string[],
  indexes: IndexAllocator,
  proxyPorts: readonly number[] = [PORT_OUTBOUND, PORT_INBOUND, PORT_TUNNEL],
): NodeView {
  const local: Workload[] = [];
  for (const [key, w] of cfg.workloads) {
    if (w.node !== nodeName) continue;
    local.push({
      key, namespace: w.namespace, name: w.name, nodeName: w.node, ...(w.ip ? { ip: w.ip } : {}),
      serviceAccount: w.serviceAccount, identity: w.identity, enrolled: w.meshed, reason: w.reason, index: indexes.indexOf(key),
    });
  }
  indexes.retain(new Set(local.map((w) => w.key)));
  local.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const byIp = new Map<string, PeerRef>();
  for (const p of cfg.peers.values()) byIp.set(p.ip, { namespace: p.namespace, name: p.name, identity: p.identity, meshed: p.meshed, node: p.node });
  const services = [...cfg.services.entries()].filter(([, s]) => s.vip !== '').sort(([a], [b]) => (a < b ? -1 : 1)).map(([, s]) => s);
  return { nodeName, version: cfg.version, local, byIp, services, localAddrs: [...localAddrs].sort(), proxyPorts };
}

/** The enrolled pods of this node, keyed by IP: what the BPF workload map must hold. */
export function enrolledByIp(view: NodeView): Map<string, Workload> {
  const out = new Map<string, Workload>();
  for (const w of view.local) if (w.enrolled && w.ip) out.set(w.ip, w);
  return out;
}
