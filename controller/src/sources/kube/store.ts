// The Kubernetes source's object store: what each reflector reads goes through convertObject, the
// same validation the manifest source applies. An invalid version is rejected alone (a problem
// with kind, namespace, name, field path) and the object's last valid version stays in force.

import type { ManifestProblem } from '../../model/types.js';
import { addObject, convertObject, emptyResources, type ClusterResources, type ParsedObject } from '../../model/index.js';
import { readRouteHead } from '../../model/routes.js';
import type { RouteHead } from '../../routes/index.js';
import { apiVersionOf, type KubeType } from './types.js';

/** What the status write-back needs of a route object, valid or not. */
export interface RouteObject {
  readonly head: RouteHead;
  /** status.parents as last read (every controller's entries) */
  readonly parents: readonly unknown[];
  readonly rv: string | undefined;
}

interface Entry {
  /** resourceVersion of the latest version seen, valid or not */
  readonly rv: string | undefined;
  /** HTTPRoute / GRPCRoute only */
  readonly route?: RouteObject;
  /** the last valid version, still in force when the latest one was rejected */
  readonly object?: ParsedObject;
  readonly json?: string;
  /** set while the latest version is invalid */
  readonly problem?: ManifestProblem;
}

const isRec = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const typeKey = (t: KubeType): string => `${apiVersionOf(t)}/${t.kind}`;

/** namespace/name (name alone for cluster-scoped kinds), or undefined when the object has no name. */
function idOf(t: KubeType, raw: unknown): string | undefined {
  const m = isRec(raw) && isRec(raw.metadata) ? raw.metadata : undefined;
  if (!m || typeof m.name !== 'string' || m.name === '') return undefined;
  if (!t.namespaced) return m.name;
  return `${typeof m.namespace === 'string' ? m.namespace : ''}/${m.name}`;
}

function routeObject(kind: 'HTTPRoute' | 'GRPCRoute', raw: Record<string, unknown>, rv: string | undefined): RouteObject {
  const status = isRec(raw.status) ? raw.status : {};
  return { head: readRouteHead(kind, raw), parents: Array.isArray(status.parents) ? status.parents : [], rv };
}

export class KubeStore {
  readonly #types = new Map<string, Map<string, Entry>>();
  readonly #order: string[] = [];
  /** increases whenever the snapshot content changes */
  version = 0;
  /** increases whenever a route object changes in any way (its status included) */
  routeVersion = 0;
  rejected = 0;
  ignored = 0;

  constructor(types: readonly KubeType[]) {
    for (const t of types) {
      const k = typeKey(t);
      if (this.#types.has(k)) continue;
      this.#types.set(k, new Map());
      this.#order.push(k);
    }
  }

  #entries(t: KubeType): Map<string, Entry> {
    let m = this.#types.get(typeKey(t));
    if (!m) { m = new Map(); this.#types.set(typeKey(t), m); this.#order.push(typeKey(t)); }
    return m;
  }

  objectCount(t: KubeType): number {
    return this.#types.get(typeKey(t))?.size ?? 0;
  }

  /** An ADDED or MODIFIED object (or one item of a list). */
  upsert(t: KubeType, raw: unknown): void {
    const id = idOf(t, raw);
    const entries = this.#entries(t);
    if (id === undefined || !isRec(raw)) {
      this.rejected++;
      return;
    }
    const meta = raw.metadata as Record<string, unknown>;
    const rv = typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '' ? meta.resourceVersion : undefined;
    const old = entries.get(id);
    if (old && rv !== undefined && old.rv === rv) return; // the same version again (a relist): nothing to do
    // list items of built-in kinds carry no apiVersion/kind: the type says what they are
    const full = { ...raw, apiVersion: apiVersionOf(t), kind: t.kind };
    const r = convertObject(full, `kube:${t.kind}`, id);
    const route = t.kind === 'HTTPRoute' || t.kind === 'GRPCRoute' ? routeObject(t.kind, full, rv) : undefined;
    if (route && JSON.stringify(route) !== JSON.stringify(old?.route)) this.routeVersion++;
    if ('object' in r) {
      const json = JSON.stringify(r.object.value);
      entries.set(id, { rv, object: r.object, json, ...(route ? { route } : {}) });
      if (!old || old.json !== json || old.problem) this.version++;
    } else if ('problem' in r) {
      this.rejected++;
      entries.set(id, { rv, ...(old?.object ? { object: old.object, json: old.json } : {}), problem: r.problem, ...(route ? { route } : {}) });
      if (JSON.stringify(old?.problem) !== JSON.stringify(r.problem)) this.version++;
    } else {
      this.ignored++;
    }
  }

  /** A DELETED object: its valid version (and any problem) go. */
  remove(t: KubeType, raw: unknown): void {
    const id = idOf(t, raw);
    const entries = this.#entries(t);
    if (id !== undefined && entries.delete(id)) this.version++;
  }

  /** The result of a full list: objects absent from it were deleted meanwhile. */
  replace(t: KubeType, items: readonly unknown[]): void {
    const entries = this.#entries(t);
    const keep = new Set<string>();
    for (const raw of items) {
      const id = idOf(t, raw);
      if (id !== undefined) keep.add(id);
    }
    for (const id of [...entries.keys()]) {
      if (!keep.has(id)) { entries.delete(id); this.version++; }
    }
    for (const raw of items) this.upsert(t, raw);
  }

  /** Every route object (valid or not) by kind/namespace/name, for the status write-back. */
  routes(): Map<string, RouteObject> {
    const out = new Map<string, RouteObject>();
    for (const entries of this.#types.values()) {
      for (const e of entries.values()) if (e.route) out.set(`${e.route.head.kind}/${e.route.head.namespace}/${e.route.head.name}`, e.route);
    }
    return out;
  }

  /** Immutable resources and current problems, in a stable order (type, then id). */
  build(): { resources: ClusterResources; problems: ManifestProblem[] } {
    const r = emptyResources();
    const problems: ManifestProblem[] = [];
    for (const k of this.#order) {
      const entries = this.#types.get(k)!;
      for (const id of [...entries.keys()].sort()) {
        const e = entries.get(id)!;
        if (e.object) addObject(r, e.object);
        if (e.problem) problems.push(e.problem);
      }
    }
    return { resources: r, problems };
  }
}
