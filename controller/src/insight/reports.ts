// What agents report (telemetry.proto Snapshot), converted at the wire boundary into readonly
// domain types, and kept per node as a short ring (10 minutes at the agents' 5 s cadence) that
// `stat`, `check`, `explain` and the UI read. A garbled snapshot is rejected, the ring unchanged.

import { MeshError } from '../../../common/errors.js';

export interface Peer { readonly namespace: string; readonly workload: string }
export interface HttpCounters {
  readonly direction: string; readonly src: Peer; readonly dst: Peer; readonly route: string; readonly routeKind: string; readonly backend: string; readonly tls: boolean;
  readonly requests: number; readonly successes: number; readonly failures: number; readonly latencyCounts: readonly number[]; readonly latencySumMs: number;
}
export interface TcpCounters { readonly direction: string; readonly src: Peer; readonly dst: Peer; readonly opened: number; readonly closed: number; readonly open: number; readonly bytesRead: number; readonly bytesWritten: number }
export interface AuthzCounters { readonly layer: string; readonly policy: string; readonly dst: Peer; readonly allow: number; readonly deny: number }
export interface PodState { readonly key: string; readonly workload: string; readonly ip: string; readonly meshed: boolean; readonly reason: string; readonly capture: string; readonly captureError: string; readonly identity: string; readonly certState: string; readonly certNotAfterMs: number }

export interface Snapshot {
  readonly node: string;
  /** controller clock when received (agent clocks may differ) */
  readonly receivedMs: number;
  readonly atMs: number;
  readonly startedAtMs: number;
  readonly bucketsMs: readonly number[];
  readonly http: readonly HttpCounters[];
  readonly tcp: readonly TcpCounters[];
  readonly authz: readonly AuthzCounters[];
  readonly pods: readonly PodState[];
  readonly configVersion: number;
  readonly configError: string;
}

type W = Record<string, unknown>;
const num = (v: unknown, f: string): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : 0;
  if (!Number.isFinite(n) || n < 0) throw new MeshError('MESH_ERR_PROTOCOL', `snapshot.${f}: expected a non-negative number, got ${JSON.stringify(v)}`);
  return n;
};
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const peer = (v: unknown): Peer => ({ namespace: str((v as W | undefined)?.namespace), workload: str((v as W | undefined)?.workload) });
const arr = (v: unknown): W[] => (Array.isArray(v) ? (v as W[]) : []);

/** The wire Snapshot (proto-loader object) → domain; throws MESH_ERR_PROTOCOL naming the field. */
export function snapshotFromWire(node: string, m: W, receivedMs: number): Snapshot {
  const buckets = arr(m.bucketsMs).map((b, i) => num(b, `bucketsMs[${i}]`));
  return {
    node, receivedMs,
    atMs: num(m.atMs, 'atMs'),
    startedAtMs: num(m.startedAtMs, 'startedAtMs'),
    bucketsMs: buckets,
    http: arr(m.http).map((h, i) => {
      const counts = arr(h.latencyCounts).map((c, j) => num(c, `http[${i}].latencyCounts[${j}]`));
      if (counts.length !== 0 && counts.length !== buckets.length + 1) throw new MeshError('MESH_ERR_PROTOCOL', `snapshot.http[${i}].latencyCounts: ${counts.length} counts for ${buckets.length} buckets (want buckets + 1)`);
      return {
        direction: str(h.direction), src: peer(h.src), dst: peer(h.dst), route: str(h.routeName), routeKind: str(h.routeKind), backend: str(h.backend), tls: str(h.tls) === 'true',
        requests: num(h.requests, `http[${i}].requests`), successes: num(h.successes, `http[${i}].successes`), failures: num(h.failures, `http[${i}].failures`),
        latencyCounts: counts, latencySumMs: num(h.latencySumMs, `http[${i}].latencySumMs`),
      };
    }),
    tcp: arr(m.tcp).map((t, i) => ({
      direction: str(t.direction), src: peer(t.src), dst: peer(t.dst),
      opened: num(t.opened, `tcp[${i}].opened`), closed: num(t.closed, `tcp[${i}].closed`), open: num(t.open, `tcp[${i}].open`),
      bytesRead: num(t.bytesRead, `tcp[${i}].bytesRead`), bytesWritten: num(t.bytesWritten, `tcp[${i}].bytesWritten`),
    })),
    authz: arr(m.authz).map((a, i) => ({ layer: str(a.layer), policy: str(a.policy), dst: peer(a.dst), allow: num(a.allow, `authz[${i}].allow`), deny: num(a.deny, `authz[${i}].deny`) })),
    pods: arr(m.pods).map((p, i) => ({
      key: str(p.key), workload: str(p.workload), ip: str(p.ip), meshed: p.meshed === true, reason: str(p.reason), capture: str(p.capture), captureError: str(p.captureError),
      identity: str(p.identity), certState: str(p.certState), certNotAfterMs: num(p.certNotAfterMs, `pods[${i}].certNotAfterMs`),
    })),
    configVersion: num(m.configVersion, 'configVersion'),
    configError: str(m.configError),
  };
}

/** Snapshots kept per node. */
const RING = 120;

export class ReportStore {
  readonly #byNode = new Map<string, Snapshot[]>();
  readonly #connected = new Set<string>();

  add(s: Snapshot): void {
    let r = this.#byNode.get(s.node);
    if (!r) { r = []; this.#byNode.set(s.node, r); }
    r.push(s);
    if (r.length > RING) r.splice(0, r.length - RING);
  }

  setConnected(node: string, on: boolean): void {
    if (on) this.#connected.add(node); else this.#connected.delete(node);
  }

  connected(node: string): boolean { return this.#connected.has(node); }

  nodes(): string[] { return [...new Set([...this.#byNode.keys(), ...this.#connected])].sort(); }

  latest(node: string): Snapshot | undefined { return this.#byNode.get(node)?.at(-1); }

  /** For a window ending now: per node, the latest snapshot and the oldest one inside the window
   *  (or the one just before it, so a window of two reports still has a start). */
  window(windowMs: number, now: number): { readonly node: string; readonly end: Snapshot; readonly start: Snapshot | undefined }[] {
    const out: { node: string; end: Snapshot; start: Snapshot | undefined }[] = [];
    for (const [node, r] of this.#byNode) {
      const end = r.at(-1);
      if (!end) continue;
      let start: Snapshot | undefined;
      for (let i = r.length - 2; i >= 0; i--) {
        const s = r[i]!;
        if (s.startedAtMs !== end.startedAtMs) break; // the agent restarted: its counters did too
        start = s;
        if (s.receivedMs <= now - windowMs) break;
      }
      out.push({ node, end, start });
    }
    return out;
  }
}
