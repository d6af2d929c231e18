// The versioned config model: holds every derived resource once, diffs each new cluster snapshot
// against the previous one (one comparison per resource, shared by all nodes), and cuts per-node
// views and deltas from it: a node gets its own workloads in full plus peers, services, routes,
// policies and the mesh settings (trust bundle). A pod change costs one small delta fanned out, never a per-node rebuild.

import { MeshError } from '../../../common/errors.js';
import type { ClusterResources } from '../model/index.js';
import { deriveResources } from './derive.js';
import { MESH_KEY, type ConfigResource, type ConfigUpdate, type MeshCfg, type NodeConfig, type ResourceRef, type ResourceType } from './types.js';

interface Entry { readonly res: ConfigResource; readonly json: string }

/** The changes of one model version, before per-node selection. */
export interface ModelDelta {
  readonly version: number;
  readonly upserts: readonly ConfigResource[];
  readonly removes: readonly ResourceRef[];
  /** workload keys that left a node (moved or deleted): node → keys, to remove there */
  readonly workloadRemovals: ReadonlyMap<string, readonly string[]>;
}

const id = (type: ResourceType, key: string): string => `${type}\u0000${key}`;

export class ConfigModel {
  readonly trustDomain: string;
  #entries = new Map<string, Entry>();
  #version = 0;
  /** the mesh resource (trust bundle, default policy), carried into every version */
  #mesh: Entry | undefined;
  /** node → identity → number of that node's workloads running as it (for the CA) */
  #identities = new Map<string, Map<string, number>>();

  constructor(trustDomain = 'cluster.local', mesh?: MeshCfg) {
    this.trustDomain = trustDomain;
    if (mesh) this.#mesh = this.#meshEntry(mesh);
  }

  #meshEntry(mesh: MeshCfg): Entry {
    if (mesh.trustDomain !== this.trustDomain) throw new MeshError('MESH_ERR_CONFIG', `the mesh settings name trust domain "${mesh.trustDomain}" but the model derives identities in "${this.trustDomain}"; pass one --trust-domain`);
    const res: ConfigResource = { type: 'mesh', key: MESH_KEY, value: mesh };
    return { res, json: JSON.stringify(mesh) };
  }

  /** Replaces the mesh settings (e.g. a trust anchor rotation); returns the delta for every node. */
  setMesh(mesh: MeshCfg): ModelDelta | undefined {
    this.#mesh = this.#meshEntry(mesh);
    const next = new Map(this.#entries);
    next.set(id('mesh', MESH_KEY), this.#mesh);
    return this.#commit(next);
  }

  get mesh(): MeshCfg | undefined {
    return this.#mesh?.res.type === 'mesh' ? this.#mesh.res.value : undefined;
  }

  /** Does a workload scheduled on `node` run as `identity`? (The CA signs only for those.) */
  nodeHasIdentity(node: string, identity: string): boolean {
    return (this.#identities.get(node)?.get(identity) ?? 0) > 0;
  }

  get version(): number {
    return this.#version;
  }

  /** Applies a cluster snapshot; returns the delta, or undefined when nothing changed. */
  update(res: ClusterResources): ModelDelta | undefined {
    const next = new Map<string, Entry>();
    for (const r of deriveResources(res, this.trustDomain)) next.set(id(r.type, r.key), { res: r, json: JSON.stringify(r.value) });
    if (this.#mesh) next.set(id('mesh', MESH_KEY), this.#mesh);
    return this.#commit(next);
  }

  #commit(next: Map<string, Entry>): ModelDelta | undefined {
    const upserts: ConfigResource[] = [];
    const removes: ResourceRef[] = [];
    const workloadRemovals = new Map<string, string[]>();
    const leave = (node: string, key: string): void => { workloadRemovals.set(node, [...(workloadRemovals.get(node) ?? []), key]); };
    for (const [k, e] of next) {
      const old = this.#entries.get(k);
      if (old?.json === e.json) continue;
      upserts.push(e.res);
      if (old && old.res.type === 'workload' && e.res.type === 'workload' && old.res.value.node !== e.res.value.node) leave(old.res.value.node, old.res.key);
    }
    for (const [k, old] of this.#entries) {
      if (next.has(k)) continue;
      if (old.res.type === 'workload') leave(old.res.value.node, old.res.key);
      else removes.push({ type: old.res.type, key: old.res.key });
    }
    if (upserts.length === 0 && removes.length === 0 && workloadRemovals.size === 0) return undefined;
    this.#entries = next;
    this.#version++;
    this.#indexIdentities();
    return { version: this.#version, upserts, removes, workloadRemovals };
  }

  #indexIdentities(): void {
    const idx = new Map<string, Map<string, number>>();
    for (const { res } of this.#entries.values()) {
      if (res.type !== 'workload') continue;
      const m = idx.get(res.value.node) ?? new Map<string, number>();
      m.set(res.value.identity, (m.get(res.value.identity) ?? 0) + 1);
      idx.set(res.value.node, m);
    }
    this.#identities = idx;
  }

  /** The full view of one node, as the first message of its stream. */
  fullUpdate(node: string): ConfigUpdate {
    const upserts: ConfigResource[] = [];
    for (const { res } of this.#entries.values()) if (res.type !== 'workload' || res.value.node === node) upserts.push(res);
    return { version: this.#version, full: true, upserts, removes: [] };
  }

  /** The part of a model delta that concerns one node; undefined when it has nothing for it. */
  static forNode(d: ModelDelta, node: string): ConfigUpdate | undefined {
    const upserts = d.upserts.filter((r) => r.type !== 'workload' || r.value.node === node);
    const removes: ResourceRef[] = [...d.removes, ...(d.workloadRemovals.get(node) ?? []).map((key) => ({ type: 'workload' as const, key }))];
    if (upserts.length === 0 && removes.length === 0) return undefined;
    return { version: d.version, full: false, upserts, removes };
  }

  /** Nodes that have workloads (for the admin's /debug/snapshot and metrics). */
  nodes(): string[] {
    const out = new Set<string>();
    for (const { res } of this.#entries.values()) if (res.type === 'workload') out.add(res.value.node);
    return [...out].sort();
  }
}

/** Applies an update to a node config (agent side); returns a new config, the input is untouched. */
export function applyUpdate(cfg: NodeConfig | undefined, u: ConfigUpdate): NodeConfig {
  const base = u.full || !cfg ? emptyConfig() : cfg;
  const maps = {
    workload: new Map(base.workloads),
    peer: new Map(base.peers),
    service: new Map(base.services),
    route: new Map(base.routes),
    policy: new Map(base.policies),
  };
  let mesh = base.mesh;
  for (const r of u.removes) if (r.type === 'mesh') mesh = undefined; else maps[r.type].delete(r.key);
  for (const r of u.upserts) if (r.type === 'mesh') mesh = r.value; else (maps[r.type] as Map<string, unknown>).set(r.key, r.value);
  return { version: u.version, ...(mesh ? { mesh } : {}), workloads: maps.workload, peers: maps.peer, services: maps.service, routes: maps.route, policies: maps.policy };
}

export function emptyConfig(): NodeConfig {
  return { version: 0, workloads: new Map(), peers: new Map(), services: new Map(), routes: new Map(), policies: new Map() };
}

/** The config a node would receive for these resources: what standalone mode runs on. */
export function nodeConfigFrom(res: ClusterResources, node: string, trustDomain = 'cluster.local', mesh?: MeshCfg): NodeConfig {
  const m = new ConfigModel(trustDomain, mesh);
  m.update(res);
  return applyUpdate(undefined, m.fullUpdate(node));
}
