// The controller's tap hub: a tap session (from the CLI or the UI) is sent to every connected
// agent as a TapStart (and to agents that connect later), the agents' matching records are fanned
// back to that session, and a session whose consumer stops keeping up is cut off, never buffered.

import { randomBytes } from 'node:crypto';

export interface TapFilterSpec {
  readonly namespace: string;
  /** '' = the whole namespace */
  readonly workload: string;
  readonly method: string;
  readonly pathPrefix: string;
  readonly maxPerSecond: number;
}

/** A tap record as the CLI and the UI see it (one line of `nodemesh tap -o json`). */
export interface TapRecord {
  readonly node: string;
  readonly direction: string;
  readonly src: string; readonly dst: string;
  readonly srcWorkload: string; readonly dstWorkload: string;
  readonly srcIdentity: string; readonly dstIdentity: string;
  readonly protocol: string; readonly method: string; readonly authority: string; readonly path: string;
  readonly status: number; readonly grpcStatus: number | null;
  readonly route: string; readonly backend: string;
  readonly durationMs: number; readonly atMs: number;
}

export type TapCommand = { readonly tapStart: { tapId: string; workload: { namespace: string; workload: string }; method: string; pathPrefix: string; maxPerSecond: number } } | { readonly tapStop: { tapId: string } };

interface Session {
  readonly id: string;
  readonly filter: TapFilterSpec;
  /** false: the consumer is not keeping up; the session ends */
  readonly onRecord: (r: TapRecord) => boolean;
  readonly onEnd: (reason: string) => void;
}

type W = Record<string, unknown>;
const s = (v: unknown): string => (typeof v === 'string' ? v : '');
const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const peer = (v: unknown): string => { const p = v as W | undefined; return p && s(p.namespace) ? `${s(p.namespace)}/${s(p.workload)}` : ''; };

/** A wire TapEvent → TapRecord (the boundary: no wire object goes further). */
export function tapRecordFromWire(node: string, e: W): TapRecord {
  const g = n(e.grpcStatus);
  return {
    node, direction: s(e.direction), src: s(e.src), dst: s(e.dst), srcWorkload: peer(e.srcWorkload), dstWorkload: peer(e.dstWorkload),
    srcIdentity: s(e.srcIdentity), dstIdentity: s(e.dstIdentity), protocol: s(e.protocol), method: s(e.method), authority: s(e.authority), path: s(e.path),
    status: n(e.status), grpcStatus: g < 0 ? null : g, route: s(e.route), backend: s(e.backend), durationMs: n(e.durationMs), atMs: n(e.atMs),
  };
}

export class TapHub {
  readonly #sessions = new Map<string, Session>();
  readonly #agents = new Map<string, (c: TapCommand) => void>();

  static startOf(id: string, f: TapFilterSpec): TapCommand {
    return { tapStart: { tapId: id, workload: { namespace: f.namespace, workload: f.workload }, method: f.method, pathPrefix: f.pathPrefix, maxPerSecond: f.maxPerSecond } };
  }

  /** An agent stream opened: it gets every open tap. Returns its removal. */
  attach(node: string, send: (c: TapCommand) => void): () => void {
    this.#agents.set(node, send);
    for (const t of this.#sessions.values()) send(TapHub.startOf(t.id, t.filter));
    return () => { if (this.#agents.get(node) === send) this.#agents.delete(node); };
  }

  open(filter: TapFilterSpec, onRecord: Session['onRecord'], onEnd: Session['onEnd']): { readonly id: string; close(reason?: string): void } {
    const id = randomBytes(8).toString('hex');
    this.#sessions.set(id, { id, filter, onRecord, onEnd });
    for (const send of this.#agents.values()) send(TapHub.startOf(id, filter));
    return { id, close: (reason = 'closed') => this.#end(id, reason) };
  }

  #end(id: string, reason: string): void {
    const t = this.#sessions.get(id);
    if (!t) return;
    this.#sessions.delete(id);
    for (const send of this.#agents.values()) send({ tapStop: { tapId: id } });
    t.onEnd(reason);
  }

  /** Records from one agent's TapBatch. */
  deliver(node: string, events: readonly W[]): void {
    for (const e of events) {
      const t = this.#sessions.get(s(e.tapId));
      if (!t) continue;
      if (!t.onRecord(tapRecordFromWire(node, e))) this.#end(t.id, 'MESH_ERR_TAP_SLOW: the tap client stopped reading; it was cut off');
    }
  }

  sessions(): number { return this.#sessions.size; }

  agents(): string[] { return [...this.#agents.keys()].sort(); }

  closeAll(): void { for (const id of [...this.#sessions.keys()]) this.#end(id, 'the controller is stopping'); }
}
