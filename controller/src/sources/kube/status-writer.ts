// Writes the computed route status (routes/status.ts) back to the status subresource of HTTPRoute and
// GRPCRoute objects, only when our entries differ from what the object shows. Our entries of
// status.parents (controllerName nodemesh.io/mesh-controller) are replaced, other controllers' are kept;
// the PATCH carries the resourceVersion it merged on, a conflict re-reads and retries (bounded).

import { MeshError } from '../../../../common/errors.js';
import { CONTROLLER_NAME, routeKey, type RouteStatus } from '../../routes/index.js';
import type { RouteParentRef, RouteParentStatus } from '../../model/index.js';
import type { KubeClient } from './client.js';
import type { RouteObject } from './store.js';
import type { KubeType } from './types.js';

export interface StatusWriterOptions {
  /** tries per route before giving up until the next resync (default 5) */
  readonly attempts?: number;
  /** backoff between tries, doubled each time (default 100 ms) */
  readonly backoffMs?: number;
  /** a route that could not be written is tried again after this long (default 30 s) */
  readonly resyncMs?: number;
}

export interface StatusWriterStats {
  /** successful PATCHes */
  readonly patches: number;
  /** 409 Conflict answers (the object changed since it was read) */
  readonly conflicts: number;
  /** routes given up on after every try (retried at the next resync) */
  readonly failures: number;
}

type Json = Record<string, unknown>;
const isRec = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function refOf(p: RouteParentRef): Json {
  return { group: p.group, kind: p.kind, name: p.name, ...(p.namespace !== undefined ? { namespace: p.namespace } : {}), ...(p.port !== undefined ? { port: p.port } : {}) };
}

/** Our entries as the object shows them, without lastTransitionTime (for comparison). */
function oursObserved(parents: readonly unknown[]): string {
  const out = parents.filter((p): p is Json => isRec(p) && p.controllerName === CONTROLLER_NAME).map((p) => {
    const r = isRec(p.parentRef) ? p.parentRef : {};
    const conditions = (Array.isArray(p.conditions) ? p.conditions : []).filter(isRec).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, observedGeneration: c.observedGeneration }));
    return { parentRef: { group: r.group ?? 'gateway.networking.k8s.io', kind: r.kind ?? 'Gateway', name: r.name, ...(r.namespace !== undefined ? { namespace: r.namespace } : {}), ...(r.port !== undefined ? { port: r.port } : {}) }, controllerName: CONTROLLER_NAME, conditions };
  });
  return JSON.stringify(out);
}

function oursDesired(d: RouteStatus): string {
  return JSON.stringify(d.parents.map((p) => ({ parentRef: refOf(p.parentRef), controllerName: CONTROLLER_NAME, conditions: p.conditions.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, observedGeneration: c.observedGeneration })) })));
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** status.parents to write: others' entries as they are, then ours (lastTransitionTime kept while a condition's status holds). */
export function mergeParents(observed: readonly unknown[], desired: readonly RouteParentStatus[], at = now()): unknown[] {
  const others = observed.filter((p) => !(isRec(p) && p.controllerName === CONTROLLER_NAME));
  const prev = new Map<string, Json>();
  for (const p of observed) {
    if (!isRec(p) || p.controllerName !== CONTROLLER_NAME || !isRec(p.parentRef)) continue;
    for (const c of Array.isArray(p.conditions) ? p.conditions : []) if (isRec(c)) prev.set(`${JSON.stringify(refOf(p.parentRef as unknown as RouteParentRef))}/${String(c.type)}`, c);
  }
  const ours = desired.map((p) => ({
    parentRef: refOf(p.parentRef),
    controllerName: CONTROLLER_NAME,
    conditions: p.conditions.map((c) => {
      const old = prev.get(`${JSON.stringify(refOf(p.parentRef))}/${c.type}`);
      const since = old && old.status === c.status && typeof old.lastTransitionTime === 'string' ? old.lastTransitionTime : at;
      return { type: c.type, status: c.status, reason: c.reason, message: c.message, observedGeneration: c.observedGeneration, lastTransitionTime: since };
    }),
  }));
  return [...others, ...ours];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => { setTimeout(r, ms).unref(); });

export class RouteStatusWriter {
  readonly #client: KubeClient;
  readonly #types: ReadonlyMap<string, KubeType>;
  readonly #objects: () => ReadonlyMap<string, RouteObject>;
  readonly #report: (e: MeshError) => void;
  readonly #o: Required<StatusWriterOptions>;
  readonly #pending = new Map<string, RouteStatus>();
  /** key → what we wrote and the resourceVersion we wrote it over (until the watch shows it) */
  readonly #written = new Map<string, { json: string; overRv: string | undefined }>();
  #last: readonly RouteStatus[] = [];
  #draining = false;
  #closed = false;
  #resync: NodeJS.Timeout | undefined;
  /** aborts the request in flight on close(), so nothing of the writer holds the process */
  readonly #abort = new AbortController();
  #stats = { patches: 0, conflicts: 0, failures: 0 };

  constructor(client: KubeClient, types: readonly KubeType[], objects: () => ReadonlyMap<string, RouteObject>, report: (e: MeshError) => void, o: StatusWriterOptions = {}) {
    this.#client = client;
    this.#types = new Map(types.map((t) => [t.kind, t]));
    this.#objects = objects;
    this.#report = report;
    this.#o = { attempts: o.attempts ?? 5, backoffMs: o.backoffMs ?? 100, resyncMs: o.resyncMs ?? 30_000 };
  }

  get stats(): StatusWriterStats { return { ...this.#stats }; }

  /** Queues every route whose entries of ours differ from `desired`, and writes them in the background. */
  reconcile(desired: readonly RouteStatus[]): void {
    if (this.#closed) return;
    this.#last = desired;
    const objects = this.#objects();
    for (const d of desired) {
      const key = routeKey(d);
      const o = objects.get(key);
      const json = oursDesired(d);
      const w = this.#written.get(key);
      if (!o || oursObserved(o.parents) === json || (w?.json === json && w.overRv === o.rv)) {
        this.#pending.delete(key);
        continue;
      }
      this.#pending.set(key, d);
    }
    for (const k of [...this.#written.keys()]) if (!objects.has(k)) this.#written.delete(k);
    void this.#drain();
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#pending.clear();
    if (this.#resync) clearTimeout(this.#resync);
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    let failed = false;
    try {
      while (!this.#closed && this.#pending.size > 0) {
        const [key, d] = this.#pending.entries().next().value as [string, RouteStatus];
        this.#pending.delete(key);
        if (!(await this.#write(key, d))) failed = true;
      }
    } finally {
      this.#draining = false;
    }
    if (failed && !this.#closed && !this.#resync) {
      this.#resync = setTimeout(() => { this.#resync = undefined; this.reconcile(this.#last); }, this.#o.resyncMs);
      this.#resync.unref();
    }
  }

  #path(d: RouteStatus): string {
    const t = this.#types.get(d.kind);
    const group = t?.group ?? 'gateway.networking.k8s.io';
    return `/apis/${group}/${t?.version ?? 'v1'}/namespaces/${encodeURIComponent(d.namespace)}/${t?.plural ?? `${d.kind.toLowerCase()}s`}/${encodeURIComponent(d.name)}/status`;
  }

  /** Up to `attempts` PATCHes; true when written (or nothing to write any more). */
  async #write(key: string, d: RouteStatus): Promise<boolean> {
    const o = this.#objects().get(key);
    if (!o) return true;
    let parents = o.parents;
    let rv = o.rv;
    let last = '';
    for (let i = 0; i < this.#o.attempts && !this.#closed; i++) {
      if (i > 0) await sleep(this.#o.backoffMs * 2 ** (i - 1));
      const body = { metadata: { ...(rv !== undefined ? { resourceVersion: rv } : {}) }, status: { parents: mergeParents(parents, d.parents) } };
      let res: { status: number; body: string };
      try {
        res = await this.#client.call('PATCH', this.#path(d), body, 'application/merge-patch+json', 10_000, this.#abort.signal);
      } catch (e) {
        last = (e as Error).message;
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        this.#stats.patches++;
        this.#written.set(key, { json: oursDesired(d), overRv: o.rv });
        return true;
      }
      if (res.status === 404) return true; // deleted meanwhile: its DELETED event follows
      if (res.status === 403) {
        this.#stats.failures++;
        this.#report(new MeshError('MESH_ERR_KUBE_FORBIDDEN', `the controller may not write the status of ${d.kind} ${d.namespace}/${d.name} (403); grant get and patch on ${this.#types.get(d.kind)?.plural ?? 'httproutes'}/status in gateway.networking.k8s.io (ClusterRole in deploy/base)`));
        return false;
      }
      last = `HTTP ${res.status}: ${res.body.slice(0, 200)}`;
      if (res.status === 409) {
        this.#stats.conflicts++;
        const fresh = await this.#read(d).catch(() => undefined);
        if (fresh === null) return true;
        if (fresh) ({ parents, rv } = fresh);
      }
    }
    if (this.#closed) return true;
    this.#stats.failures++;
    this.#report(new MeshError('MESH_ERR_KUBE_API', `could not write the status of ${d.kind} ${d.namespace}/${d.name} after ${this.#o.attempts} tries (${last}); retried in ${Math.round(this.#o.resyncMs / 1000)} s`));
    return false;
  }

  /** The object's current status parents and resourceVersion; null when it is gone. */
  async #read(d: RouteStatus): Promise<{ parents: unknown[]; rv: string | undefined } | null | undefined> {
    const res = await this.#client.call('GET', this.#path(d), undefined, 'application/json', 10_000, this.#abort.signal);
    if (res.status === 404) return null;
    if (res.status !== 200) return undefined;
    const o: unknown = JSON.parse(res.body);
    if (!isRec(o)) return undefined;
    const meta = isRec(o.metadata) ? o.metadata : {};
    const status = isRec(o.status) ? o.status : {};
    return { parents: Array.isArray(status.parents) ? status.parents : [], rv: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : undefined };
  }
}
