// Tap filters, pure: which of the node proxy's finished-request records a tap wants (from or to
// its workload, method, path prefix) and the wire TapEvent each becomes, with the workloads on
// both sides named from the node's view. A record carries no body and no header value.

import type { NodeView } from '../state/index.js';
import type { PeerWire } from './snapshot.js';

export interface TapFilter {
  readonly id: string;
  readonly namespace: string;
  /** the workload (service account); '' = every workload of the namespace */
  readonly workload: string;
  readonly method: string;
  readonly pathPrefix: string;
  readonly maxPerSecond: number;
}

export interface TapEventWire {
  tapId: string; direction: string; src: string; dst: string; srcIdentity: string; dstIdentity: string; protocol: string;
  method: string; authority: string; path: string; status: number; grpcStatus: number; route: string; backend: string;
  durationMs: number; atMs: number; srcWorkload: PeerWire; dstWorkload: PeerWire;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const ipOf = (addr: string): string => addr.slice(0, addr.lastIndexOf(':'));

/** The workload (namespace, service account) at an address; a pod without one, its name. */
function workloadOf(view: NodeView, addr: string): PeerWire {
  const ip = addr ? ipOf(addr) : '';
  const local = view.local.find((w) => w.ip === ip);
  if (local) return { namespace: local.namespace, workload: local.serviceAccount };
  const p = ip ? view.byIp.get(ip) : undefined;
  if (!p) return { namespace: '', workload: '' };
  const sa = /\/ns\/[^/]+\/sa\/([^/]+)$/.exec(p.identity)?.[1];
  return { namespace: p.namespace, workload: sa ?? p.name };
}

/** The record as a TapEvent (before filtering): its source is the client, its destination the
 *  endpoint that answered when known (a Service request), else the address it was sent to. */
export function toTapEvent(view: NodeView, rec: Readonly<Record<string, unknown>>, atMs: number): TapEventWire {
  const src = str(rec.src);
  const dst = str(rec.endpoint) || str(rec.dst);
  return {
    tapId: '', direction: str(rec.direction), src, dst, srcIdentity: str(rec.src_identity), dstIdentity: str(rec.dst_identity),
    protocol: str(rec.protocol), method: str(rec.method), authority: str(rec.authority), path: str(rec.path),
    status: typeof rec.status === 'number' ? rec.status : 0,
    grpcStatus: typeof rec.grpc_status === 'number' ? rec.grpc_status : -1,
    route: str(rec.route), backend: str(rec.backend),
    durationMs: typeof rec.duration_ms === 'number' ? rec.duration_ms : 0,
    atMs, srcWorkload: workloadOf(view, src), dstWorkload: workloadOf(view, dst),
  };
}

const side = (f: TapFilter, p: PeerWire): boolean => p.namespace === f.namespace && (f.workload === '' || p.workload === f.workload);

export function tapMatches(f: TapFilter, e: TapEventWire): boolean {
  if (!side(f, e.srcWorkload) && !side(f, e.dstWorkload)) return false;
  if (f.method && e.method.toUpperCase() !== f.method.toUpperCase()) return false;
  if (f.pathPrefix && !e.path.startsWith(f.pathPrefix)) return false;
  return true;
}
