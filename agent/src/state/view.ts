// The node view: what one agent needs to know, derived from the cluster's resources. It says, for
// every pod, whether it is meshed and exactly why not when it is not. Pure: no I/O, no clocks;
// the workload indexes it assigns are kept stable across rebuilds by the caller's IndexAllocator.

import type { ClusterResources, Pod } from '../../../controller/src/model/index.js';
import { objectKey, spiffeId } from '../../../controller/src/model/index.js';
import { PORT_INBOUND, PORT_OUTBOUND } from '../../../common/layout.js';

/** Why a pod is or is not captured; stable strings shown in /config_dump and metrics. */
export type EnrollmentReason =
  | 'enrolled'
  | 'namespace-not-meshed'
  | 'namespace-missing'
  | 'opted-out'
  | 'no-pod-ip';

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

export interface NodeView {
  readonly nodeName: string;
  /** this node's pods, meshed or not, sorted by key */
  readonly local: readonly Workload[];
  /** every pod in the cluster with an IP, for labelling peers */
  readonly byIp: ReadonlyMap<string, Workload>;
  /** node-local addresses (never steered; a connection to one is a direct connect) */
  readonly localAddrs: readonly string[];
  /** the proxy's own listener ports: an original destination on one of them is a loop, denied */
  readonly proxyPorts: readonly number[];
}

/** Hands out small stable integers per key; indexes of removed keys are not reused soon. */
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

export function enrollment(res: ClusterResources, pod: Pod): EnrollmentReason {
  const ns = res.namespaces.get(pod.namespace);
  if (!ns) return 'namespace-missing';
  if (!ns.meshEnabled) return 'namespace-not-meshed';
  if (pod.captureOptOut) return 'opted-out';
  if (!pod.podIP) return 'no-pod-ip';
  return 'enrolled';
}

export function buildNodeView(
  res: ClusterResources,
  nodeName: string,
  localAddrs: readonly string[],
  indexes: IndexAllocator,
  proxyPorts: readonly number[] = [PORT_OUTBOUND, PORT_INBOUND],
): NodeView {
  const local: Workload[] = [];
  const byIp = new Map<string, Workload>();
  const live = new Set<string>();
  for (const pod of res.pods.values()) {
    const key = objectKey(pod.namespace, pod.name);
    live.add(key);
    const reason = enrollment(res, pod);
    const w: Workload = {
      key,
      namespace: pod.namespace,
      name: pod.name,
      nodeName: pod.nodeName,
      ...(pod.podIP ? { ip: pod.podIP } : {}),
      serviceAccount: pod.serviceAccount,
      identity: spiffeId(pod),
      enrolled: reason === 'enrolled',
      reason,
      index: indexes.indexOf(key),
    };
    if (pod.nodeName === nodeName) local.push(w);
    if (w.ip) byIp.set(w.ip, w);
  }
  indexes.retain(live);
  local.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { nodeName, local, byIp, localAddrs: [...localAddrs].sort(), proxyPorts };
}

/** The enrolled pods of this node, keyed by IP: what the BPF workload map must hold. */
export function enrolledByIp(view: NodeView): Map<string, Workload> {
  const out = new Map<string, Workload>();
  for (const w of view.local) if (w.enrolled && w.ip) out.set(w.ip, w);
  return out;
}
