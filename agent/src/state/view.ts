// The node view: what one agent acts on, derived from its NodeConfig (streamed by the controller or
// computed locally in standalone mode). It says, for every pod of the node, whether it is meshed
// and exactly why not. Pure: the workload indexes are kept stable by the caller's IndexAllocator.

import type { DefaultInboundPolicy, EnrollmentReason, NodeConfig, ServiceCfg } from '../../../controller/src/views/index.js';
import {
  DEFAULT_TRACE_SAMPLING, DEFAULT_TRUST_DOMAIN, faultPolicyOf, rateLimitPolicyOf, type FaultPolicy, type Labels, type Policy, type RateLimitPolicy, type Route,
} from '../../../controller/src/model/index.js';
import { PORT_INBOUND, PORT_OUTBOUND, PORT_TUNNEL } from '../../../common/layout.js';

export type { DefaultInboundPolicy, EnrollmentReason, Policy };

/** The policy kinds inbound authorization compiles (agent/src/authz). */
export const AUTHZ_POLICY_KINDS: readonly string[] = ['AuthorizationPolicy', 'MeshTLSPolicy'];
/** Istio's root namespace: its policies without a target or selector apply to the whole mesh. */
export const MESH_ROOT_NAMESPACE = 'nodemesh-system';

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
  readonly labels: Labels;
  /** what it accepts when no ALLOW policy applies: its namespace's annotation, else the mesh's */
  readonly defaultInboundPolicy: DefaultInboundPolicy;
  /** its namespace's nodemesh.io/access-log is "enabled" */
  readonly accessLog: boolean;
  /** when the mesh has a trace collector: the percentage of new traces its requests start (its
   *  namespace's nodemesh.io/trace-sampling, else DEFAULT_TRACE_SAMPLING); absent: not traced */
  readonly traceSampling?: number;
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
  /** the mesh's trust domain (the mesh settings; cluster.local until they arrive) */
  readonly trustDomain: string;
  /**
   * AuthorizationPolicy and MeshTLSPolicy objects that may apply to this node's pods (those of
   * their namespaces, and those of nodemesh-system), sorted by kind/namespace/name
   */
  readonly policies: readonly Policy[];
  /** every Service of this node's pods' namespaces, headless ones too, by namespace/name: policy targets */
  readonly targetServices: ReadonlyMap<string, ServiceCfg>;
  /** every Service, headless ones too, by namespace/name: route backends (agent/src/routing) */
  readonly serviceByKey: ReadonlyMap<string, ServiceCfg>;
  /** HTTPRoutes and GRPCRoutes, sorted by kind/namespace/name: this node's clients may call any Service */
  readonly routes: readonly Route[];
  /** FaultPolicy and RateLimitPolicy objects (any namespace: they shape outbound traffic), sorted by namespace/name */
  readonly faults: readonly FaultPolicy[];
  readonly rateLimits: readonly RateLimitPolicy[];
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
  const meshDefault = cfg.mesh?.defaultInboundPolicy ?? 'all-unauthenticated';
  const traced = cfg.mesh?.traceCollector !== undefined;
  for (const [key, w] of cfg.workloads) {
    if (w.node !== nodeName) continue;
    local.push({
      key, namespace: w.namespace, name: w.name, nodeName: w.node, ...(w.ip ? { ip: w.ip } : {}),
      serviceAccount: w.serviceAccount, identity: w.identity, enrolled: w.meshed, reason: w.reason, index: indexes.indexOf(key),
      labels: w.labels, defaultInboundPolicy: w.defaultInboundPolicy ?? meshDefault, accessLog: w.accessLog === true,
      ...(traced ? { traceSampling: w.traceSampling ?? DEFAULT_TRACE_SAMPLING } : {}),
    });
  }
  indexes.retain(new Set(local.map((w) => w.key)));
  local.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const byIp = new Map<string, PeerRef>();
  for (const p of cfg.peers.values()) byIp.set(p.ip, { namespace: p.namespace, name: p.name, identity: p.identity, meshed: p.meshed, node: p.node });
  const sorted = [...cfg.services.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  const services = sorted.filter(([, s]) => s.vip !== '').map(([, s]) => s);
  const namespaces = new Set(local.map((w) => w.namespace));
  const targetServices = new Map(sorted.filter(([, s]) => namespaces.has(s.namespace)));
  namespaces.add(MESH_ROOT_NAMESPACE);
  const policies = [...cfg.policies.entries()]
    .filter(([, p]) => AUTHZ_POLICY_KINDS.includes(p.kind) && namespaces.has(p.namespace))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, p]) => p);
  const routes = [...cfg.routes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  const l7 = [...cfg.policies.values()].sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
  return {
    nodeName, version: cfg.version, local, byIp, services, localAddrs: [...localAddrs].sort(), proxyPorts,
    trustDomain: cfg.mesh?.trustDomain ?? DEFAULT_TRUST_DOMAIN, policies, targetServices, serviceByKey: new Map(sorted), routes,
    faults: typed(l7, 'FaultPolicy', faultPolicyOf), rateLimits: typed(l7, 'RateLimitPolicy', rateLimitPolicyOf),
  };
}

/** The policies of one L7 kind, typed; one the converter rejects is skipped (the controller reported it). */
function typed<T>(policies: readonly Policy[], kind: string, of: (p: Policy) => T): T[] {
  return policies.flatMap((p) => {
    if (p.kind !== kind) return [];
    try {
      return [of(p)];
    } catch {
      return [];
    }
  });
}

/** The enrolled pods of this node, keyed by IP: what the BPF workload map must hold. */
export function enrolledByIp(view: NodeView): Map<string, Workload> {
  const out = new Map<string, Workload>();
  for (const w of view.local) if (w.enrolled && w.ip) out.set(w.ip, w);
  return out;
}
