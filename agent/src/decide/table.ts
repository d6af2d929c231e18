// The compiled decision table: what TypeScript hands the native proxy so that a new connection is
// decided by a lookup on a native thread, never by a call into the JavaScript event loop.
// Wire shape (JSON) of NodeProxy.setTable; native/src/proxy/table.rs parses and validates it.

import type { TableAuthz } from '../authz/index.js';
import type { TableHttp } from '../routing/table.js';

/** What the proxy does with a captured connection. */
export interface TableVerdict {
  /** forward: connect upstream to the original destination from the client's own IP; deny: close */
  readonly action: 'forward' | 'deny';
  /** a MESH_ERR_* code when denied, '' when forwarded */
  readonly reason: string;
}

export interface TableWorkload {
  /** pod IPv4 address */
  readonly ip: string;
  /** workload index, the same as in the BPF workload map */
  readonly index: number;
  /** verdict for connections this pod opens (captured on :15001) */
  readonly outbound: TableVerdict;
  /** verdict for connections to this pod (captured on :15006) */
  readonly inbound: TableVerdict;
  /** the pod's SPIFFE identity: the certificate its connections present ('' or absent: none) */
  readonly identity?: string;
}

/** A meshed pod of another node: connections to it go over HBONE to its node's proxy (:15008). */
export interface TablePeer {
  readonly ip: string;
  readonly node: string;
  /** the SPIFFE identity its server certificate must carry */
  readonly identity: string;
}

export interface TableEndpoint {
  /** endpoint pod IPv4 */
  readonly ip: string;
  /** target port, resolved (1..65535) */
  readonly port: number;
}

/** One TCP port of a Service with a virtual IP: outbound connections to vip:port go to an endpoint. */
export interface TableService {
  /** "namespace/name" (one slash, both parts non-empty, no spaces): the `service` of verdicts,
   *  connection events and metrics */
  readonly name: string;
  /** the Service's virtual (cluster) IPv4 */
  readonly vip: string;
  /** the Service port (1..65535); vip:port must be unique in the table */
  readonly port: number;
  /** ready endpoints; none → the connection is denied with MESH_ERR_NO_ENDPOINTS. An ip:port
   *  listed twice counts once (native picks among distinct endpoints) */
  readonly endpoints: readonly TableEndpoint[];
}

export interface DecisionTable {
  /** monotonically increasing; native refuses nothing on version, it just reports it */
  readonly version: number;
  /** node-local addresses: a connection whose original destination is one of these is denied
   *  (MESH_ERR_DIRECT_CONNECT), which also guards against the proxy connecting to itself */
  readonly localAddrs: readonly string[];
  /** verdicts for a source (outbound) or destination (inbound) IP not in `workloads` */
  readonly defaults: { readonly outbound: TableVerdict; readonly inbound: TableVerdict };
  readonly workloads: readonly TableWorkload[];
  /** Service ports, matched on the original destination of outbound connections (absent: none) */
  readonly services?: readonly TableService[];
  /** meshed pods of other nodes (absent: none, every remote destination is outside the mesh) */
  readonly peers?: readonly TablePeer[];
  /** inbound authorization of this node's workloads (agent/src/authz; absent: allow all) */
  readonly authz?: TableAuthz;
  /** L7: protocol detection and the compiled HTTP routes (agent/src/routing; absent: every
   *  connection is TCP, as before) */
  readonly http?: TableHttp;
}
