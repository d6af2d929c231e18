// The connection decision: given the node view and a captured connection, route it or deny it.
// Pure and table-tested. compileTable() turns the same rules into the lookup table the native
// proxy applies per connection, and test/netns checks native evaluate() agrees with decide().

import type { NodeView, Workload } from '../state/index.js';
import { enrolledByIp } from '../state/index.js';
import { compileAuthz } from '../authz/index.js';
import { compileHttp } from '../routing/index.js';
import type { DecisionTable, TablePeer, TableVerdict } from './table.js';

export interface Endpoint { readonly ip: string; readonly port: number }

export interface Conn {
  /** outbound: captured leaving a pod of this node (:15001); inbound: captured arriving for one (:15006) */
  readonly direction: 'outbound' | 'inbound';
  readonly src: Endpoint;
  /** the original destination */
  readonly dst: Endpoint;
}

export interface Route {
  readonly kind: 'route';
  /** where the proxy connects: the original destination */
  readonly upstream: Endpoint;
  /** the source address of the upstream connection: the client's own IP, so the server sees it */
  readonly bindIp: string;
  /** the pod of this node on whose behalf the connection is proxied */
  readonly workload: Workload;
  /**
   * Set when the original destination is a Service's virtual IP and port: the proxy connects to
   * one of these endpoints instead (power of two choices over open connections, retried elsewhere
   * on refusal). `upstream` stays the VIP because the pick happens per connection in native code.
   */
  readonly service?: { readonly name: string; readonly endpoints: readonly Endpoint[] };
}

export interface Denied {
  readonly kind: 'denied';
  /** MESH_ERR_* code, also the close reason reported for the connection */
  readonly code: 'MESH_ERR_DIRECT_CONNECT' | 'MESH_ERR_NOT_ENROLLED' | 'MESH_ERR_NO_ENDPOINTS';
  readonly message: string;
}

export type Decision = Route | Denied;

const FORWARD: TableVerdict = { action: 'forward', reason: '' };
const NOT_ENROLLED: TableVerdict = { action: 'deny', reason: 'MESH_ERR_NOT_ENROLLED' };

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.');
}

export function decide(view: NodeView, conn: Conn): Decision {
  if (isLoopback(conn.dst.ip) || view.localAddrs.includes(conn.dst.ip) || view.proxyPorts.includes(conn.dst.port)) {
    return { kind: 'denied', code: 'MESH_ERR_DIRECT_CONNECT', message: `${conn.dst.ip}:${conn.dst.port} is this node's own address or a proxy port; clients must not connect to proxy ports directly` };
  }
  const subjectIp = conn.direction === 'outbound' ? conn.src.ip : conn.dst.ip;
  const w = enrolledByIp(view).get(subjectIp);
  if (!w) {
    const side = conn.direction === 'outbound' ? 'source' : 'destination';
    return { kind: 'denied', code: 'MESH_ERR_NOT_ENROLLED', message: `${side} ${subjectIp} is not an enrolled pod of node ${view.nodeName}` };
  }
  const svc = conn.direction === 'outbound' ? serviceAt(view, conn.dst) : undefined;
  if (svc && svc.endpoints.length === 0) {
    return { kind: 'denied', code: 'MESH_ERR_NO_ENDPOINTS', message: `service ${svc.name} (${conn.dst.ip}:${conn.dst.port}) has no ready endpoint` };
  }
  return { kind: 'route', upstream: conn.dst, bindIp: conn.src.ip, workload: w, ...(svc ? { service: svc } : {}) };
}

/** The service port whose virtual IP and port are `dst`, with its ready endpoints. */
function serviceAt(view: NodeView, dst: Endpoint): { name: string; endpoints: Endpoint[] } | undefined {
  for (const s of view.services) {
    if (s.vip !== dst.ip) continue;
    const p = s.ports.find((x) => x.port === dst.port && x.protocol === 'TCP');
    if (p) return { name: `${s.namespace}/${s.name}`, endpoints: p.endpoints.map((e) => ({ ip: e.ip, port: e.port })) };
  }
  return undefined;
}

/** The native lookup table implementing decide() for this view. */
export function compileTable(view: NodeView, version: number): DecisionTable {
  const workloads = [...enrolledByIp(view).values()].map((w) => ({ ip: w.ip!, index: w.index, outbound: FORWARD, inbound: FORWARD, identity: w.identity }));
  const peers: TablePeer[] = [];
  for (const [ip, p] of view.byIp) {
    if (p.meshed && p.node !== view.nodeName && p.node !== '' && p.identity.startsWith('spiffe://')) peers.push({ ip, node: p.node, identity: p.identity });
  }
  const services = view.services.flatMap((s) => s.ports.filter((p) => p.protocol === 'TCP').map((p) => ({
    name: `${s.namespace}/${s.name}`,
    vip: s.vip,
    port: p.port,
    endpoints: p.endpoints.map((e) => ({ ip: e.ip, port: e.port })),
  })));
  return {
    version,
    localAddrs: view.localAddrs,
    defaults: { outbound: NOT_ENROLLED, inbound: NOT_ENROLLED },
    workloads,
    services,
    peers,
    authz: compileAuthz(view),
    http: compileHttp(view),
  };
}
