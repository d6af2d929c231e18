// The controller's insight API, behind `nodemesh stat/tap/explain/check` and the web UI: every
// answer is computed from the config model (each node's view, built as its agent builds it) and
// the agents' reports, by the pure functions of controller/src/insight and agent/src/explain.
// Callers are scoped to namespaces; a request outside them is refused with MESH_ERR_TAP_FORBIDDEN.

import { parseDuration } from '../common/duration.js';
import { MeshError } from '../common/errors.js';
import type { ControllerHandle } from '../controller/src/index.js';
import { edges, stat, type StatKind, type StatRow, type TapFilterSpec, type TapRecord } from '../controller/src/insight/index.js';
import { applyUpdate, emptyConfig } from '../controller/src/views/index.js';
import { explainPair, explainPod, type PairExplanation, type PodExplanation } from '../agent/src/explain/index.js';
import { IndexAllocator, buildNodeView, type NodeView } from '../agent/src/state/index.js';

export type InsightSource = Pick<ControllerHandle, 'model' | 'telemetry' | 'agents'>;

/** Who asks: every namespace ('*'), or these. */
export interface Caller { readonly user: string; readonly namespaces: '*' | ReadonlySet<string> }

export const ADMIN: Caller = { user: 'local', namespaces: '*' };

export function maySee(c: Caller, ns: string): boolean {
  return c.namespaces === '*' || c.namespaces.has(ns);
}

function forbid(c: Caller, ns: string): void {
  if (!maySee(c, ns)) throw new MeshError('MESH_ERR_TAP_FORBIDDEN', `${c.user} may not see namespace "${ns}"; ask for a token that grants it`);
}

/** "30s", "2m", "500ms" → ms (1 s .. 10 min). */
export function parseWindow(v: string | null | undefined, dflt = 30_000): number {
  if (!v) return dflt;
  const ms = parseDuration(v);
  if (ms === undefined || ms < 1000 || ms > 600_000) throw new MeshError('MESH_ERR_USAGE', `window must be like 30s, 2m (1s to 10m), got "${v}"`);
  return ms;
}

export class Insight {
  readonly #src: InsightSource;
  #views: { version: number; byNode: Map<string, NodeView> } | undefined;

  constructor(src: InsightSource) {
    this.#src = src;
  }

  /** Each node's view as its agent builds it (cached per model version). */
  views(): Map<string, NodeView> {
    const v = this.#src.model.version;
    if (this.#views?.version === v) return this.#views.byNode;
    const byNode = new Map<string, NodeView>();
    for (const node of this.#src.model.nodes()) {
      byNode.set(node, buildNodeView(applyUpdate(emptyConfig(), this.#src.model.fullUpdate(node)), node, [], new IndexAllocator()));
    }
    this.#views = { version: v, byNode };
    return byNode;
  }

  #podNode(key: string): { node: string; view: NodeView } | undefined {
    for (const [node, view] of this.views()) if (view.local.some((w) => w.key === key)) return { node, view };
    return undefined;
  }

  stat(c: Caller, kind: StatKind, q: { namespace?: string; name?: string; from?: string; windowMs: number }): { windowMs: number; rows: StatRow[] } {
    if (q.namespace) forbid(c, q.namespace);
    const pairs = this.#src.telemetry.store.window(q.windowMs, Date.now());
    const rows = stat(pairs, { kind, ...(q.namespace ? { namespace: q.namespace } : {}), ...(q.name ? { name: q.name } : {}), ...(q.from ? { from: q.from } : {}) });
    return { windowMs: q.windowMs, rows: rows.filter((r) => maySee(c, r.namespace)) };
  }

  /** Every namespace of a pod or Service in the node views or the agents' reports: what a
   *  Kubernetes caller's access is asked for on list endpoints. */
  namespaces(): string[] {
    const out = new Set<string>();
    for (const v of this.views().values()) {
      for (const w of v.local) out.add(w.namespace);
      for (const svc of v.services) out.add(svc.namespace);
    }
    const store = this.#src.telemetry.store;
    for (const n of store.nodes()) for (const p of store.latest(n)?.pods ?? []) out.add(p.key.slice(0, p.key.indexOf('/')));
    out.delete('');
    return [...out].sort();
  }

  /** Workloads (namespace/service account) with their pods, for the graph and workload pages. */
  workloads(c: Caller): { id: string; namespace: string; meshed: boolean; pods: { key: string; node: string; ip: string; meshed: boolean }[] }[] {
    const m = new Map<string, { id: string; namespace: string; meshed: boolean; pods: { key: string; node: string; ip: string; meshed: boolean }[] }>();
    for (const [node, view] of this.views()) for (const w of view.local) {
      if (!maySee(c, w.namespace)) continue;
      const id = `${w.namespace}/${w.serviceAccount}`;
      const e = m.get(id) ?? { id, namespace: w.namespace, meshed: false, pods: [] };
      e.meshed ||= w.enrolled;
      e.pods.push({ key: w.key, node, ip: w.ip ?? '', meshed: w.enrolled });
      m.set(id, e);
    }
    return [...m.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  graph(c: Caller, windowMs: number): { nodes: ReturnType<Insight['workloads']>; edges: ReturnType<typeof edges> } {
    const pairs = this.#src.telemetry.store.window(windowMs, Date.now());
    const ns = (k: string): string => k.slice(0, k.indexOf('/'));
    return { nodes: this.workloads(c), edges: edges(pairs).filter((e) => maySee(c, ns(e.src)) || maySee(c, ns(e.dst))) };
  }

  /** Per node: config stream, ACKed version against the model's, last report, pods, certificates. */
  nodes(): { name: string; connected: boolean; acked: number; modelVersion: number; inSync: boolean; reportAgeMs: number | null; configError: string; pods: number; meshed: number; certs: { identity: string; state: string; notAfterMs: number }[] }[] {
    const agents = new Map(this.#src.agents().map((a) => [a.node, a]));
    const store = this.#src.telemetry.store;
    const names = [...new Set([...this.#src.model.nodes(), ...agents.keys(), ...store.nodes()])].sort();
    return names.map((name) => {
      const a = agents.get(name);
      const last = store.latest(name);
      const certs = new Map<string, { identity: string; state: string; notAfterMs: number }>();
      for (const p of last?.pods ?? []) if (p.identity) certs.set(p.identity, { identity: p.identity, state: p.certState, notAfterMs: p.certNotAfterMs });
      return {
        name, connected: a !== undefined, acked: a?.acked ?? 0, modelVersion: this.#src.model.version, inSync: a !== undefined && a.acked === this.#src.model.version,
        reportAgeMs: last ? Date.now() - last.receivedMs : null, configError: last?.configError ?? '',
        pods: last?.pods.length ?? 0, meshed: last?.pods.filter((p) => p.meshed).length ?? 0, certs: [...certs.values()],
      };
    });
  }

  explainPod(c: Caller, key: string): PodExplanation {
    forbid(c, key.split('/')[0] ?? '');
    const at = this.#podNode(key);
    if (!at) throw new MeshError('MESH_ERR_NOT_FOUND', `pod ${key} is not known to the controller: give NAMESPACE/NAME of a scheduled pod`);
    const last = this.#src.telemetry.store.latest(at.node);
    const p = last?.pods.find((x) => x.key === key);
    const report = last && p ? { capture: p.capture, captureError: p.captureError, certState: p.certState, certNotAfterMs: p.certNotAfterMs, ageMs: Date.now() - last.receivedMs, connected: this.#src.telemetry.store.connected(at.node) } : undefined;
    return explainPod(at.view, key, report, Date.now())!;
  }

  /** DST: IP:PORT, NAMESPACE/POD:PORT or NAMESPACE/SERVICE:PORT (a Service's VIP). */
  explainPair(c: Caller, src: string, dst: string, request?: { method?: string; path?: string; authority?: string; headers?: Record<string, string> }): PairExplanation {
    forbid(c, src.split('/')[0] ?? '');
    const at = this.#podNode(src);
    if (!at) throw new MeshError('MESH_ERR_NOT_FOUND', `pod ${src} is not known to the controller: give NAMESPACE/NAME of a scheduled pod`);
    const m = /^(.+):(\d+)$/.exec(dst);
    if (!m) throw new MeshError('MESH_ERR_USAGE', `destination must be IP:PORT, NAMESPACE/POD:PORT or NAMESPACE/SERVICE:PORT, got "${dst}"`);
    const [, host, portText] = m as unknown as [string, string, string];
    let ip = host;
    if (host.includes('/')) {
      const svc = at.view.services.find((s) => `${s.namespace}/${s.name}` === host);
      const pod = [...this.views().values()].flatMap((v) => v.local).find((w) => w.key === host);
      const found = svc?.vip ?? pod?.ip;
      if (!found) throw new MeshError('MESH_ERR_NOT_FOUND', `${host} is neither a Service nor a pod the controller knows`);
      ip = found;
    }
    const views = this.views();
    const r = explainPair({ srcView: at.view, src, dst: { ip, port: Number(portText) }, viewOf: (n) => views.get(n), ...(request ? { request } : {}) });
    if ('error' in r) throw new MeshError('MESH_ERR_NOT_FOUND', r.error);
    return r;
  }

  tap(f: TapFilterSpec, onRecord: (r: TapRecord) => boolean, onEnd: (reason: string) => void): { readonly id: string; close(reason?: string): void } {
    return this.#src.telemetry.hub.open(f, onRecord, onEnd);
  }

  /** the nodes whose agents receive taps now */
  tapAgents(): string[] {
    return this.#src.telemetry.hub.agents();
  }
}
