// Route status as the Gateway API defines it for mesh (GAMMA): per Service parentRef, Accepted
// (the parent Service and port exist; a rejected route is UnsupportedValue with its field path) and
// ResolvedRefs (every backendRef is an existing Service with that TCP port, in any namespace: GEP-1294
// needs no ReferenceGrant for mesh routes, which augment Services rather than expose them). Pure: the
// Kubernetes source writes it back, the admin endpoint serves it in manifest mode.

import type { ClusterResources, ManifestProblem, Route, RouteParentRef, Service } from '../model/index.js';
import type { BackendObjectRef, RouteParentStatus } from '../model/route-types.js';

export const CONTROLLER_NAME = 'nodemesh.io/mesh-controller';

export type RouteKind = Route['kind'];
export type RouteCondition = RouteParentStatus['conditions'][number];

/** What is known of a route even when its latest version was rejected. */
export interface RouteHead {
  readonly kind: RouteKind;
  readonly namespace: string;
  readonly name: string;
  /** metadata.generation of the latest version (valid or not) */
  readonly generation: number;
  /** its parentRefs as far as they could be read */
  readonly parentRefs: readonly RouteParentRef[];
}

export interface RouteStatus {
  readonly kind: RouteKind;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  /** our entries of status.parents, one per Service parentRef (Gateway parents are not ours) */
  readonly parents: readonly RouteParentStatus[];
  /** set when the latest version was rejected (its last valid version, if any, stays in force) */
  readonly rejected?: { readonly path: string; readonly message: string };
}

export const routeKey = (h: Pick<RouteHead, 'kind' | 'namespace' | 'name'>): string => `${h.kind}/${h.namespace}/${h.name}`;

/** A parentRef this controller serves: a core Service (GAMMA). */
export const isMeshParent = (p: RouteParentRef): boolean => p.group === '' && p.kind === 'Service';

function cond(type: RouteCondition['type'], ok: boolean, reason: string, message: string, generation: number): RouteCondition {
  return { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: generation };
}

function parentAccepted(res: ClusterResources, routeNs: string, p: RouteParentRef, generation: number): RouteCondition {
  const ns = p.namespace ?? routeNs;
  const svc = res.services.get(`${ns}/${p.name}`);
  if (!svc) return cond('Accepted', false, 'NoMatchingParent', `parent Service ${ns}/${p.name} does not exist; create it or fix spec.parentRefs`, generation);
  // GEP-1294: a headless Service has no frontend (no cluster IP to capture) and is no parent
  if (!svc.clusterIP) return cond('Accepted', false, 'NoMatchingParent', `parent Service ${ns}/${p.name} is headless (no cluster IP): mesh routes attach to a Service's cluster IP`, generation);
  if (p.port !== undefined && !svc.ports.some((sp) => sp.port === p.port && sp.protocol === 'TCP')) {
    return cond('Accepted', false, 'NoMatchingParent', `parent Service ${ns}/${p.name} has no TCP port ${p.port} (ports: ${svc.ports.map((sp) => `${sp.port}/${sp.protocol}`).join(', ')})`, generation);
  }
  return cond('Accepted', true, 'Accepted', `accepted by ${CONTROLLER_NAME}`, generation);
}

/** GEP-1426: a GRPCRoute of the same namespace attached to the same Service port wins over an
 *  HTTPRoute there; the HTTPRoute's parent is then Accepted False, reason Conflicted. */
function grpcConflict(res: ClusterResources, r: Route, p: RouteParentRef, generation: number): RouteCondition | undefined {
  if (r.kind !== 'HTTPRoute') return undefined;
  const ns = p.namespace ?? r.namespace;
  for (const g of res.routes.values()) {
    if (g.kind !== 'GRPCRoute' || g.namespace !== r.namespace) continue;
    const clash = g.parentRefs.some((q) => isMeshParent(q) && q.name === p.name && (q.namespace ?? g.namespace) === ns
      && (q.port === undefined || p.port === undefined || q.port === p.port));
    if (clash) return cond('Accepted', false, 'Conflicted', `GRPCRoute ${g.namespace}/${g.name} is attached to Service ${ns}/${p.name}${p.port !== undefined ? ` port ${p.port}` : ''} too, and a GRPCRoute takes precedence (GEP-1426); move one of them to another port`, generation);
  }
  return undefined;
}

interface RefProblem { readonly reason: 'InvalidKind' | 'BackendNotFound'; readonly message: string }

/** Why one backend reference does not resolve, or undefined when it does. */
export function backendProblem(res: ClusterResources, routeNs: string, b: BackendObjectRef, where: string): RefProblem | undefined {
  if (b.group !== '' || b.kind !== 'Service') return { reason: 'InvalidKind', message: `${where}: ${b.group ? `${b.group}/` : ''}${b.kind} is not a supported backend kind (only core Services)` };
  // a backend in another namespace needs no ReferenceGrant in a mesh (GEP-1294 "Namespace boundaries"):
  // the route reaches nothing its clients could not reach already; AuthorizationPolicy still applies
  const ns = b.namespace ?? routeNs;
  const svc: Service | undefined = res.services.get(`${ns}/${b.name}`);
  if (!svc) return { reason: 'BackendNotFound', message: `${where}: Service ${ns}/${b.name} does not exist` };
  if (b.port !== undefined && !svc.ports.some((sp) => sp.port === b.port && sp.protocol === 'TCP')) return { reason: 'BackendNotFound', message: `${where}: Service ${ns}/${b.name} has no TCP port ${b.port}` };
  return undefined;
}

/** Every backend reference of a route (backendRefs and RequestMirror targets) with its field path. */
function backendRefsOf(r: Route): { ref: BackendObjectRef; where: string }[] {
  const out: { ref: BackendObjectRef; where: string }[] = [];
  r.rules.forEach((rule, i) => {
    rule.filters.forEach((f, j) => { if (f.type === 'RequestMirror') out.push({ ref: f.requestMirror.backendRef, where: `spec.rules[${i}].filters[${j}].requestMirror.backendRef` }); });
    rule.backendRefs.forEach((b, j) => out.push({ ref: b, where: `spec.rules[${i}].backendRefs[${j}]` }));
  });
  return out;
}

function resolvedRefs(res: ClusterResources, r: Route, generation: number): RouteCondition {
  const problems = backendRefsOf(r).map(({ ref, where }) => backendProblem(res, r.namespace, ref, where)).filter((p): p is RefProblem => p !== undefined);
  if (problems.length === 0) return cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved', generation);
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1, 4).map((p) => p.message).join('; ')})` : '';
  return cond('ResolvedRefs', false, problems[0]!.reason, `${problems[0]!.message}${more}`, generation);
}

const problemKey = (p: ManifestProblem): string => `${p.kind}/${p.namespace ?? 'default'}/${p.name ?? ''}`;

/**
 * The status of every route: valid ones from `resources`, rejected ones from `problems`.
 * `heads` (optional) gives generation and parentRefs of rejected versions when the source knows
 * them (the Kubernetes source does); otherwise the last valid version's are used, or none.
 */
export function routeStatuses(res: ClusterResources, problems: readonly ManifestProblem[], heads?: ReadonlyMap<string, RouteHead>): RouteStatus[] {
  const rejected = new Map<string, ManifestProblem>();
  for (const p of problems) if (p.kind === 'HTTPRoute' || p.kind === 'GRPCRoute') rejected.set(problemKey(p), p);
  const out: RouteStatus[] = [];
  const done = new Set<string>();
  for (const r of res.routes.values()) {
    const key = routeKey(r);
    done.add(key);
    const problem = rejected.get(key);
    if (problem) out.push(rejectedStatus(heads?.get(key) ?? r, problem));
    else out.push(validStatus(res, r, heads?.get(key)?.generation ?? r.generation));
  }
  for (const [key, p] of rejected) {
    if (done.has(key)) continue;
    const head = heads?.get(key) ?? { kind: p.kind as RouteKind, namespace: p.namespace ?? 'default', name: p.name ?? '', generation: 1, parentRefs: [] };
    out.push(rejectedStatus(head, p));
  }
  return out.sort((a, b) => (routeKey(a) < routeKey(b) ? -1 : routeKey(a) > routeKey(b) ? 1 : 0));
}

function acceptedOf(res: ClusterResources, r: Route, p: RouteParentRef, generation: number): RouteCondition {
  const a = parentAccepted(res, r.namespace, p, generation);
  return a.status === 'True' ? grpcConflict(res, r, p, generation) ?? a : a;
}

function validStatus(res: ClusterResources, r: Route, generation: number): RouteStatus {
  const mesh = r.parentRefs.filter(isMeshParent);
  const resolved = mesh.length ? resolvedRefs(res, r, generation) : undefined;
  const parents = mesh.map((p) => ({ parentRef: p, controllerName: CONTROLLER_NAME, conditions: [acceptedOf(res, r, p, generation), resolved!] }));
  return { kind: r.kind, namespace: r.namespace, name: r.name, generation, parents };
}

function rejectedStatus(h: RouteHead, p: ManifestProblem): RouteStatus {
  const message = `${p.path}: ${p.message} (fix the route; its last valid version, if any, stays in force)`;
  const parents = h.parentRefs.filter(isMeshParent).map((ref) => ({ parentRef: ref, controllerName: CONTROLLER_NAME, conditions: [cond('Accepted', false, 'UnsupportedValue', message, h.generation)] }));
  return { kind: h.kind, namespace: h.namespace, name: h.name, generation: h.generation, parents, rejected: { path: p.path, message: p.message } };
}
