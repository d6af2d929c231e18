// compileHttp: the node view's Services, HTTPRoutes/GRPCRoutes (GAMMA producer and consumer
// routes) and L7 policies → the HTTP part of the decision table, every Service port with its
// entries in Gateway API precedence, backends resolved to endpoints, durations in ms. Pure.

import type { NodeView } from '../state/index.js';
import type { ServiceCfg, ServicePortCfg } from '../../../controller/src/views/index.js';
import type {
  FaultPolicy, GrpcRouteMatch, HeaderModifier, HttpRouteMatch, PathModifier, RateLimitPolicy, Route, RouteBackendRef, RouteFilter, RouteRule, StringMatch,
} from '../../../controller/src/model/index.js';
import { compareKeys, createdMs, hostRank, pathRank, type EntryKey } from './precedence.js';
import type {
  TableBackend, TableFault, TableFilter, TableHeaderModifier, TableHttp, TableHttpPort, TableMatch, TablePathModifier, TableProtocol, TableRateLimit, TableRouteEntry,
  TableStringMatch,
} from './table.js';

/**
 * How long the outbound proxy waits for a client's first bytes. A client-first client (HTTP, h2c
 * preface, TLS ClientHello) writes right after connect returns, within microseconds, a few ms on
 * a loaded node; a server-first one (MySQL, SMTP, SSH) waits for the server and would stall the
 * whole bound once per connection. 100 ms covers scheduling hiccups of client-first clients by an
 * order of magnitude and keeps the server-first handshake penalty at one human-invisible tenth of
 * a second (Istio's former protocolDetectionTimeout; Linkerd waits 10 s and relies on opaque ports).
 */
export const DETECT_TIMEOUT_MS = 100;

/** The rest of the table's knobs: Envoy's header limit, Linkerd's retry budget and failure accrual. */
export const HTTP_DEFAULTS = {
  limits: { maxHeaderBytes: 60 * 1024, retryBufferBytes: 64 * 1024, maxPendingPerEndpoint: 100 },
  retryBudget: { ratio: 0.2, minPerSecond: 10, ttlMs: 10_000 },
  accrual: { consecutiveFailures: 7, minBackoffMs: 1_000, maxBackoffMs: 60_000 },
} as const;

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** Wire bounds the native table parser accepts (native/src/l7): longer durations (GEP-2257 allows
 *  99999h) are capped at a day, more attempts at 100 (the retry budget caps retries anyway). */
export const WIRE_MAX_MS = 86_400_000;
export const WIRE_MAX_ATTEMPTS = 100;
const ms = (v: number): number => Math.min(v, WIRE_MAX_MS);

/** What compileHttp reads from the node view. */
export type HttpView = Pick<NodeView, 'services' | 'routes' | 'faults' | 'rateLimits' | 'serviceByKey'> & { readonly local?: NodeView['local'] };

export function compileHttp(view: HttpView): TableHttp {
  const ix = indexView(view);
  const ports: TableHttpPort[] = [];
  for (const s of view.services) {
    if (s.vip === '') continue;
    for (const p of s.ports) if (p.protocol === 'TCP') ports.push(compilePort(ix, s, p));
  }
  const accessLog = (view.local ?? []).filter((w) => w.accessLog && w.enrolled && w.ip).map((w) => w.ip!).sort();
  const trace = (view.local ?? []).filter((w) => w.traceSampling !== undefined && w.enrolled && w.ip)
    .map((w) => ({ ip: w.ip!, samplingPercent: w.traceSampling! })).sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  return {
    detectTimeoutMs: DETECT_TIMEOUT_MS, defaultProtocol: 'detect', ports,
    limits: { ...HTTP_DEFAULTS.limits }, retryBudget: { ...HTTP_DEFAULTS.retryBudget }, accrual: { ...HTTP_DEFAULTS.accrual },
    ...(accessLog.length > 0 ? { accessLog } : {}),
    ...(trace.length > 0 ? { trace } : {}),
  };
}

/** appProtocol (Kubernetes standard names) or the opaque-ports annotation → how the proxy treats the port. */
export function protocolOf(p: Pick<ServicePortCfg, 'appProtocol' | 'opaque'>): TableProtocol {
  if (p.opaque) return 'tcp';
  switch (p.appProtocol?.toLowerCase()) {
    case 'http': case 'kubernetes.io/ws': return 'http1';
    case 'kubernetes.io/h2c': return 'h2c';
    case 'grpc': return 'grpc';
    case 'tcp': return 'tcp';
    default: return 'detect';
  }
}

/** The view with routes by parent Service and policies by target, built once per compile. */
interface Indexed {
  readonly view: HttpView;
  /** "namespace/name" of a parent Service → routes naming it, in view order */
  readonly routes: ReadonlyMap<string, readonly Route[]>;
  readonly faults: ReadonlyMap<string, FaultPolicy>;
  readonly rateLimits: ReadonlyMap<string, RateLimitPolicy>;
}

function indexView(view: HttpView): Indexed {
  const routes = new Map<string, Route[]>();
  for (const r of view.routes) {
    for (const key of new Set(r.parentRefs.filter((ref) => ref.kind === 'Service').map((ref) => `${ref.namespace ?? r.namespace}/${ref.name}`))) {
      const list = routes.get(key);
      if (list) list.push(r);
      else routes.set(key, [r]);
    }
  }
  return { view, routes, faults: policyIndex(view.faults), rateLimits: policyIndex(view.rateLimits) };
}

const targetKey = (namespace: string, kind: string, name: string): string => `${namespace}/${kind}/${name}`;

/**
 * Policies by target (kind, name, in the policy's namespace; core group for a Service, the Gateway
 * API group for routes); when several target the same object the first by name applies.
 */
export function policyIndex<P extends FaultPolicy | RateLimitPolicy>(policies: readonly P[]): Map<string, P> {
  const out = new Map<string, P>();
  for (const p of policies) {
    const t = p.targetRef;
    const groupOk = t.kind === 'Service' ? t.group === '' || t.group === 'core' : t.group === GATEWAY_GROUP;
    if (!groupOk) continue;
    const key = targetKey(p.namespace, t.kind, t.name);
    const old = out.get(key);
    if (!old || p.name < old.name) out.set(key, p);
  }
  return out;
}

function compilePort(ix: Indexed, s: ServiceCfg, p: ServicePortCfg): TableHttpPort {
  const service = `${s.namespace}/${s.name}`;
  const serviceFault = ix.faults.get(targetKey(s.namespace, 'Service', s.name));
  // producer routes (the Service's namespace) for every client; consumer routes per client namespace
  const byNamespace = new Map<string, { key: EntryKey; entry: TableRouteEntry }[]>();
  for (const r of ix.routes.get(service) ?? []) {
    if (!attaches(r, s, p.port)) continue;
    const fault = ix.faults.get(targetKey(r.namespace, r.kind, r.name)) ?? serviceFault;
    const rateLimit = ix.rateLimits.get(targetKey(r.namespace, r.kind, r.name));
    const list = byNamespace.get(r.namespace) ?? [];
    list.push(...routeEntries(ix.view, r, fault && tableFault(fault), rateLimit && tableRateLimit(rateLimit)));
    byNamespace.set(r.namespace, list);
  }
  // GEP-1426: where a GRPCRoute and an HTTPRoute of one namespace attach to this port, the
  // GRPCRoute wins and the HTTPRoute is ignored (its status says Conflicted)
  for (const [ns, keyed] of byNamespace) {
    if (keyed.some((k) => k.entry.kind === 'GRPCRoute')) byNamespace.set(ns, keyed.filter((k) => k.entry.kind === 'GRPCRoute'));
  }
  const sorted = (keyed: { key: EntryKey; entry: TableRouteEntry }[]) => keyed.sort((a, b) => compareKeys(a.key, b.key)).map((k) => k.entry);
  const routes = sorted(byNamespace.get(s.namespace) ?? []);
  // Gateway API: once a route is attached, a request none of its rules match gets 404; the
  // Service's own endpoints serve only ports without routes.
  if (routes.length === 0) routes.push(defaultEntry(service, p, serviceFault && tableFault(serviceFault)));
  const consumers = [...byNamespace.entries()].filter(([ns, keyed]) => ns !== s.namespace && keyed.length > 0)
    .sort(([a], [b]) => (a < b ? -1 : 1)).map(([namespace, keyed]) => ({ namespace, routes: sorted(keyed) }));
  const limit = ix.rateLimits.get(targetKey(s.namespace, 'Service', s.name));
  return {
    service, vip: s.vip, port: p.port, protocol: protocolOf(p), routes,
    ...(consumers.length > 0 ? { consumers } : {}), ...(limit ? { rateLimit: tableRateLimit(limit) } : {}),
  };
}

/**
 * The route attaches to this port of the Service: a parentRef to it (core group, kind Service, its
 * namespace) without a port or with this one. A route of the Service's namespace is a producer
 * route (every client); one of another namespace a consumer route (clients of that namespace only).
 */
export function attaches(r: Route, s: ServiceCfg, port: number): boolean {
  return r.parentRefs.some((ref) => (ref.group === '' || ref.group === 'core') && ref.kind === 'Service' && ref.name === s.name
    && (ref.namespace ?? r.namespace) === s.namespace && (ref.port === undefined || ref.port === port));
}

function tableFault(f: FaultPolicy): TableFault {
  return {
    policy: `${f.namespace}/${f.name}`,
    ...(f.delay ? { delay: { ms: ms(f.delay.fixedDelayMs), percent: f.delay.percent } } : {}),
    ...(f.abort ? { abort: { status: f.abort.httpStatus, percent: f.abort.percent } } : {}),
  };
}

function tableRateLimit(r: RateLimitPolicy): TableRateLimit {
  return { policy: `${r.namespace}/${r.name}`, requestsPerSecond: r.requestsPerSecond, burst: r.burst };
}

function defaultEntry(service: string, p: ServicePortCfg, fault: TableFault | undefined): TableRouteEntry {
  return {
    route: '', kind: 'default', rule: 0, hostnames: [], match: { headers: [], query: [] }, filters: [],
    backends: [{ service, port: p.port, weight: 1, endpoints: endpointsOf(p) }],
    requestTimeoutMs: 0, backendTimeoutMs: 0, ...(fault ? { fault } : {}),
  };
}

/** One entry per (rule, match, hostname); a route without hostnames gives one per (rule, match). */
function routeEntries(view: HttpView, r: Route, fault: TableFault | undefined, rateLimit: TableRateLimit | undefined): { key: EntryKey; entry: TableRouteEntry }[] {
  const name = `${r.namespace}/${r.name}`;
  const hosts: (string | undefined)[] = r.hostnames.length > 0 ? r.hostnames.map((h) => h.toLowerCase()) : [undefined];
  const out: { key: EntryKey; entry: TableRouteEntry }[] = [];
  r.rules.forEach((rule, ri) => {
    const common = ruleParts(view, r, rule);
    rule.matches.forEach((m, mi) => {
      const { match, grpcMethodOnly } = r.kind === 'GRPCRoute' ? grpcMatch(m as GrpcRouteMatch) : { match: httpMatch(m as HttpRouteMatch), grpcMethodOnly: false };
      hosts.forEach((h, hi) => {
        const key: EntryKey = {
          ...hostRank(h), ...pathRank(match, grpcMethodOnly), method: match.method !== undefined, headers: match.headers.length, query: match.query.length,
          created: createdMs(r.creationTimestamp), order: r.order, name, kind: r.kind, rule: ri, match: mi, host: hi,
        };
        const entry: TableRouteEntry = {
          route: name, kind: r.kind, rule: ri, hostnames: h === undefined ? [] : [h], match, ...common,
          ...(fault ? { fault } : {}), ...(rateLimit ? { rateLimit } : {}),
        };
        out.push({ key, entry });
      });
    });
  });
  return out;
}

function ruleParts(view: HttpView, r: Route, rule: RouteRule): Pick<TableRouteEntry, 'filters' | 'backends' | 'requestTimeoutMs' | 'backendTimeoutMs' | 'retry'> {
  return {
    filters: rule.filters.map((f) => tableFilter(view, r, f)),
    backends: rule.backendRefs.map((b) => resolveBackend(view, r, b)),
    requestTimeoutMs: ms(rule.timeouts?.requestMs ?? 0),
    backendTimeoutMs: ms(rule.timeouts?.backendRequestMs ?? 0),
    ...(rule.retry ? { retry: { attempts: Math.min(rule.retry.attempts + 1, WIRE_MAX_ATTEMPTS), codes: [...rule.retry.codes], backoffMs: ms(rule.retry.backoffMs) } } : {}),
  };
}

function httpMatch(m: HttpRouteMatch): TableMatch {
  const kind = m.path.type === 'Exact' ? 'exact' : m.path.type === 'PathPrefix' ? 'prefix' : 'regex';
  return {
    path: { kind, value: m.path.value },
    ...(m.method !== undefined ? { method: m.method } : {}),
    headers: m.headers.map(headerMatch),
    query: m.queryParams.map((q) => ({ name: q.name, kind: q.type === 'Exact' ? 'exact' : 'regex', value: q.value })),
  };
}

/**
 * GRPCRoute: a request is `POST /<service>/<method>`. Exact service and method → exact path;
 * service only → prefix `/<service>/`; method only → regex `/[^/]+/<method>`; RegularExpression →
 * regex `/(?:<service>)/(?:<method>)`, an absent part being `[^/]+`; no method match → no path.
 */
export function grpcMatch(m: GrpcRouteMatch): { match: TableMatch; grpcMethodOnly: boolean } {
  const headers = m.headers.map(headerMatch);
  const base = { method: 'POST', headers, query: [] as TableStringMatch[] };
  const mm = m.method;
  if (!mm || (mm.service === undefined && mm.method === undefined)) return { match: base, grpcMethodOnly: false };
  if (mm.type === 'RegularExpression') {
    return { match: { ...base, path: { kind: 'regex', value: `/(?:${mm.service ?? '[^/]+'})/(?:${mm.method ?? '[^/]+'})` } }, grpcMethodOnly: false };
  }
  if (mm.service !== undefined && mm.method !== undefined) return { match: { ...base, path: { kind: 'exact', value: `/${mm.service}/${mm.method}` } }, grpcMethodOnly: false };
  if (mm.service !== undefined) return { match: { ...base, path: { kind: 'prefix', value: `/${mm.service}/` } }, grpcMethodOnly: false };
  return { match: { ...base, path: { kind: 'regex', value: `/[^/]+/${escapeRegex(mm.method!)}` } }, grpcMethodOnly: true };
}

function headerMatch(h: StringMatch): TableStringMatch {
  return { name: h.name.toLowerCase(), kind: h.type === 'Exact' ? 'exact' : 'regex', value: h.value };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function tableFilter(view: HttpView, r: Route, f: RouteFilter): TableFilter {
  switch (f.type) {
    case 'RequestHeaderModifier': return { type: 'requestHeaders', modifier: modifier(f.requestHeaderModifier) };
    case 'ResponseHeaderModifier': return { type: 'responseHeaders', modifier: modifier(f.responseHeaderModifier) };
    case 'RequestRedirect': {
      const x = f.requestRedirect;
      return {
        type: 'redirect', ...(x.scheme !== undefined ? { scheme: x.scheme } : {}), ...(x.hostname !== undefined ? { hostname: x.hostname } : {}),
        ...(x.port !== undefined ? { port: x.port } : {}), ...(x.path ? { path: pathModifier(x.path) } : {}), status: x.statusCode,
      };
    }
    case 'URLRewrite': {
      const x = f.urlRewrite;
      return { type: 'rewrite', ...(x.hostname !== undefined ? { hostname: x.hostname } : {}), ...(x.path ? { path: pathModifier(x.path) } : {}) };
    }
    case 'RequestMirror':
      return { type: 'mirror', backend: resolveBackend(view, r, { ...f.requestMirror.backendRef, weight: 1, filters: [] }), percent: f.requestMirror.percent };
  }
}

function modifier(m: HeaderModifier): TableHeaderModifier {
  return {
    set: m.set.map((h) => ({ name: h.name.toLowerCase(), value: h.value })),
    add: m.add.map((h) => ({ name: h.name.toLowerCase(), value: h.value })),
    remove: m.remove.map((n) => n.toLowerCase()),
  };
}

function pathModifier(m: PathModifier): TablePathModifier {
  return m.type === 'ReplaceFullPath' ? { kind: 'full', value: m.replaceFullPath } : { kind: 'prefix', value: m.replacePrefixMatch };
}

/**
 * A backendRef → the Service port's ready endpoints, or `invalid` with the reason (the Gateway API's
 * ResolvedRefs reasons): not a core Service, no port, unknown Service or port. Another namespace
 * needs no ReferenceGrant (GEP-1294: a mesh route reaches nothing its clients could not reach
 * anyway; the destination still authorizes the client's own identity).
 */
export function resolveBackend(view: Pick<HttpView, 'serviceByKey'>, r: Route, b: RouteBackendRef): TableBackend {
  const ns = b.namespace ?? r.namespace;
  const service = `${ns}/${b.name}`;
  const filters = b.filters.flatMap((f): TableFilter[] => (f.type === 'RequestHeaderModifier' ? [{ type: 'requestHeaders', modifier: modifier(f.requestHeaderModifier) }] : []));
  const base = { service, port: b.port ?? 0, weight: b.weight, ...(filters.length > 0 ? { filters } : {}) };
  const invalid = (reason: string): TableBackend => ({ ...base, endpoints: [], invalid: reason });
  if (!((b.group === '' || b.group === 'core') && b.kind === 'Service')) return invalid(`InvalidKind: backendRef ${b.group || 'core'}/${b.kind} ${b.name} is not a Service`);
  if (b.port === undefined) return invalid(`BackendNotFound: backendRef ${service} has no port; a Service backendRef needs one`);
  const s = view.serviceByKey.get(service);
  if (!s) return invalid(`BackendNotFound: Service ${service} does not exist`);
  const p = s.ports.find((x) => x.port === b.port && x.protocol === 'TCP');
  if (!p) return invalid(`BackendNotFound: Service ${service} has no TCP port ${b.port}`);
  return { ...base, endpoints: endpointsOf(p) };
}

function endpointsOf(p: ServicePortCfg): { ip: string; port: number }[] {
  return p.endpoints.map((e) => ({ ip: e.ip, port: e.port }));
}
