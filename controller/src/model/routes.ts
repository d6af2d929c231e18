// Parser of the Gateway API mesh routes (gateway.networking.k8s.io/v1 HTTPRoute and GRPCRoute) into
// the typed readonly Route of route-types.ts, validated as the v1 CRD schemas and their CEL rules
// say (field paths in every Invalid), with the CRD defaults applied so both sources agree.
// Our defaults where the spec leaves it to the implementation: retry attempts 1, codes 500/502/503/504, backoff 25 ms.

import type { GrpcRouteMatch, HttpRouteMatch, Route, RouteBackendRef, RouteFilter, RouteParentRef, RouteRetry, RouteRule, StringMatch } from './route-types.js';
import { DNS_LABEL, Invalid, isObj, name, obj, port, type Obj } from './fields.js';
import { deepFreeze } from './schema.js';
import { GROUP, HOSTNAME, KIND, SECTION_NAME, absolutePath, checkRegex, durationMs, headerName } from './route-syntax.js';
import { int, list, objectRef, parseFilters, pattern, string } from './route-filters.js';

export type RouteKind = Route['kind'];

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;
const HEADER_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier'] as const;
const RULE_FILTERS: Record<RouteKind, readonly string[]> = {
  HTTPRoute: ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror'],
  GRPCRoute: ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror'],
};
const GRPC_SERVICE = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;
export const DEFAULT_RETRY: RouteRetry = Object.freeze({ attempts: 1, codes: Object.freeze([500, 502, 503, 504]), backoffMs: 25 });

function parentRef(v: unknown, path: string): RouteParentRef {
  const p = obj(v, path);
  const kind = p.kind === undefined ? 'Gateway' : pattern(p.kind, `${path}.kind`, KIND, 63, 'kind');
  // the CRD defaults group to gateway.networking.k8s.io; a Service parent without a group means the core group
  const group = p.group === undefined ? (kind === 'Service' ? '' : 'gateway.networking.k8s.io') : pattern(p.group, `${path}.group`, GROUP, 253, 'API group');
  const ns = p.namespace === undefined ? undefined : name(p.namespace, `${path}.namespace`, DNS_LABEL);
  if (p.sectionName !== undefined) pattern(p.sectionName, `${path}.sectionName`, SECTION_NAME, 253, 'section name');
  return {
    group,
    kind,
    name: string(p.name, `${path}.name`, 253),
    ...(ns !== undefined ? { namespace: ns } : {}),
    ...(p.port !== undefined ? { port: port(p.port, `${path}.port`) } : {}),
  };
}

function stringMatch(v: unknown, path: string, maxValue: number): StringMatch {
  const m = obj(v, path);
  const type = m.type ?? 'Exact';
  if (type !== 'Exact' && type !== 'RegularExpression') throw new Invalid(`${path}.type`, `must be Exact or RegularExpression, got ${JSON.stringify(type)}`);
  const nm = headerName(m.name, `${path}.name`);
  const value = string(m.value, `${path}.value`, maxValue);
  if (type === 'RegularExpression') checkRegex(value, `${path}.value`);
  return { type, name: nm, value };
}

/** Header (case-insensitive) or query (exact) matches with unique names, as the CRD's listMapKey=name. */
function stringMatches(v: unknown, path: string, maxValue: number, caseless: boolean): StringMatch[] {
  const seen = new Map<string, number>();
  return list(v, path, 16).map((x, i) => {
    const m = stringMatch(x, `${path}[${i}]`, maxValue);
    const k = caseless ? m.name.toLowerCase() : m.name;
    if (seen.has(k)) throw new Invalid(`${path}[${i}].name`, `duplicate name "${m.name}" (also at ${path}[${seen.get(k)}]); a match names each ${caseless ? 'header' : 'query parameter'} once`);
    seen.set(k, i);
    return m;
  });
}

function httpMatch(v: unknown, path: string): HttpRouteMatch {
  const m = obj(v, path);
  const po = obj(m.path, `${path}.path`, true);
  const type = po.type ?? 'PathPrefix';
  if (type !== 'Exact' && type !== 'PathPrefix' && type !== 'RegularExpression') throw new Invalid(`${path}.path.type`, `must be Exact, PathPrefix or RegularExpression, got ${JSON.stringify(type)}`);
  const raw = po.value === undefined ? '/' : string(po.value, `${path}.path.value`, 1024);
  const value = type === 'RegularExpression' ? checkRegex(raw, `${path}.path.value`) : absolutePath(raw, `${path}.path.value`);
  if (m.method !== undefined && !(HTTP_METHODS as readonly unknown[]).includes(m.method)) {
    throw new Invalid(`${path}.method`, `must be one of ${HTTP_METHODS.join(', ')} (upper case), got ${JSON.stringify(m.method)}`);
  }
  return {
    path: { type, value },
    headers: stringMatches(m.headers, `${path}.headers`, 4096, true),
    queryParams: stringMatches(m.queryParams, `${path}.queryParams`, 1024, false),
    ...(m.method !== undefined ? { method: m.method as string } : {}),
  };
}

function grpcMatch(v: unknown, path: string): GrpcRouteMatch {
  const m = obj(v, path);
  const headers = stringMatches(m.headers, `${path}.headers`, 4096, true);
  if (m.method === undefined) return { headers };
  const mo = obj(m.method, `${path}.method`);
  const type = mo.type ?? 'Exact';
  if (type !== 'Exact' && type !== 'RegularExpression') throw new Invalid(`${path}.method.type`, `must be Exact or RegularExpression, got ${JSON.stringify(type)}`);
  const service = mo.service === undefined ? undefined : string(mo.service, `${path}.method.service`, 1024);
  const method = mo.method === undefined ? undefined : string(mo.method, `${path}.method.method`, 1024);
  if (type === 'Exact') {
    if (service === undefined && method === undefined) throw new Invalid(`${path}.method`, "one or both of 'service' or 'method' must be specified for an Exact match");
    if (service !== undefined && !GRPC_SERVICE.test(service)) throw new Invalid(`${path}.method.service`, `"${service}" is not a valid gRPC service name (e.g. "helloworld.Greeter")`);
    if (method !== undefined && !GRPC_METHOD.test(method)) throw new Invalid(`${path}.method.method`, `"${method}" is not a valid gRPC method name (letters, digits, "_")`);
  } else {
    if (service !== undefined) checkRegex(service, `${path}.method.service`);
    if (method !== undefined) checkRegex(method, `${path}.method.method`);
  }
  return { method: { type, ...(service !== undefined ? { service } : {}), ...(method !== undefined ? { method } : {}) }, headers };
}

function backendRef(v: unknown, path: string): RouteBackendRef {
  let weight = 1;
  const ref = objectRef(v, path, (b) => { if (b.weight !== undefined) weight = int(b.weight, `${path}.weight`, 0, 1_000_000); });
  const filters = parseFilters(obj(v, path).filters, `${path}.filters`, HEADER_FILTERS);
  return { ...ref, weight, filters };
}

function timeouts(v: unknown, path: string): RouteRule['timeouts'] {
  const t = obj(v, path);
  const request = t.request === undefined ? undefined : durationMs(t.request, `${path}.request`);
  const backend = t.backendRequest === undefined ? undefined : durationMs(t.backendRequest, `${path}.backendRequest`);
  // the CRD's CEL rule compares the durations as written: "0s" request means no limit; a "0s" backendRequest passes
  if (request !== undefined && backend !== undefined && request !== 0 && backend > request) {
    throw new Invalid(`${path}.backendRequest`, `must not be longer than timeouts.request (${String(t.request)})`);
  }
  return { ...(request ? { requestMs: request } : {}), ...(backend ? { backendRequestMs: backend } : {}) };
}

function retry(v: unknown, path: string): RouteRetry {
  const r = obj(v, path);
  const attempts = r.attempts === undefined ? DEFAULT_RETRY.attempts : int(r.attempts, `${path}.attempts`, 0, 2 ** 31 - 1);
  const codes = r.codes === undefined ? DEFAULT_RETRY.codes : list(r.codes, `${path}.codes`, 100).map((c, i) => int(c, `${path}.codes[${i}]`, 400, 599));
  const backoffMs = r.backoff === undefined ? DEFAULT_RETRY.backoffMs : durationMs(r.backoff, `${path}.backoff`);
  return { attempts, codes, backoffMs };
}

/** The rule checks of the CRD's CEL: ReplacePrefixMatch needs exactly one PathPrefix match; no redirect with backends. */
function checkHttpRule(matches: readonly HttpRouteMatch[], filters: readonly RouteFilter[], backends: number, path: string): void {
  filters.forEach((f, i) => {
    const mod = f.type === 'RequestRedirect' ? f.requestRedirect.path : f.type === 'URLRewrite' ? f.urlRewrite.path : undefined;
    if (mod?.type === 'ReplacePrefixMatch' && (matches.length !== 1 || matches[0]!.path.type !== 'PathPrefix')) {
      const field = f.type === 'RequestRedirect' ? 'requestRedirect' : 'urlRewrite';
      throw new Invalid(`${path}.filters[${i}].${field}.path.replacePrefixMatch`, `ReplacePrefixMatch needs the rule to have exactly one match, a PathPrefix one (it has ${matches.length}${matches.length === 1 ? `, a ${matches[0]!.path.type}` : ''}); split the rule`);
    }
    if (f.type === 'RequestRedirect' && backends > 0) throw new Invalid(`${path}.filters[${i}]`, 'a RequestRedirect filter must not be used together with backendRefs (the redirect answers the request)');
  });
}

function rule(kind: RouteKind, v: unknown, path: string): RouteRule {
  const r = obj(v, path);
  const rawMatches = list(r.matches, `${path}.matches`, 64);
  const matches = kind === 'HTTPRoute'
    ? (rawMatches.length ? rawMatches : [{}]).map((m, i) => httpMatch(m, `${path}.matches[${i}]`))
    : (rawMatches.length ? rawMatches : [{}]).map((m, i) => grpcMatch(m, `${path}.matches[${i}]`));
  const filters = parseFilters(r.filters, `${path}.filters`, RULE_FILTERS[kind]);
  const backendRefs = list(r.backendRefs, `${path}.backendRefs`, 16).map((b, j) => backendRef(b, `${path}.backendRefs[${j}]`));
  if (kind === 'HTTPRoute') checkHttpRule(matches as HttpRouteMatch[], filters, backendRefs.length, path);
  else {
    for (const f of ['timeouts', 'retry'] as const) {
      if (r[f] !== undefined) throw new Invalid(`${path}.${f}`, `a GRPCRoute rule has no ${f} in Gateway API v1; use an HTTPRoute on the same Service port for ${f}`);
    }
  }
  const nm = r.name === undefined ? undefined : pattern(r.name, `${path}.name`, SECTION_NAME, 253, 'rule name (lower-case DNS labels)');
  const to = r.timeouts === undefined ? undefined : timeouts(r.timeouts, `${path}.timeouts`);
  return {
    ...(nm !== undefined ? { name: nm } : {}),
    matches,
    filters,
    backendRefs,
    ...(to && (to.requestMs !== undefined || to.backendRequestMs !== undefined) ? { timeouts: to } : {}),
    ...(r.retry !== undefined ? { retry: retry(r.retry, `${path}.retry`) } : {}),
  };
}

function metaNumber(v: unknown, path: string, dflt: number): number {
  return v === undefined ? dflt : int(v, path, 1, Number.MAX_SAFE_INTEGER);
}

/** HTTPRoute or GRPCRoute → Route, or Invalid with the field path. `order`: position in its source. */
export function parseRoute(kind: RouteKind, o: Obj, order = 0): Route {
  const meta = obj(o.metadata, 'metadata');
  const spec = obj(o.spec, 'spec');
  const parentRefs = list(spec.parentRefs, 'spec.parentRefs', 32, false).map((p, i) => parentRef(p, `spec.parentRefs[${i}]`));
  if (parentRefs.length === 0) throw new Invalid('spec.parentRefs', 'must name at least one parent (a Service, for mesh routing)');
  const hostnames = list(spec.hostnames, 'spec.hostnames', 16).map((h, i) => pattern(typeof h === 'string' ? h.toLowerCase() : h, `spec.hostnames[${i}]`, HOSTNAME, 253, 'hostname (DNS labels, optionally "*." first)'));
  // the HTTPRoute CRD defaults rules to one rule with the default match (and no backends: 500)
  const rawRules = spec.rules === undefined && kind === 'HTTPRoute' ? [{}] : list(spec.rules, 'spec.rules', 16);
  const rules = rawRules.map((r, i) => rule(kind, r, `spec.rules[${i}]`));
  const total = rules.reduce((n, r) => n + r.matches.length, 0);
  if (total > 128) throw new Invalid('spec.rules', `the route has ${total} matches across its rules; at most 128 are allowed`);
  const names = new Map<string, number>();
  rules.forEach((r, i) => {
    if (r.name === undefined) return;
    if (names.has(r.name)) throw new Invalid(`spec.rules[${i}].name`, `rule name "${r.name}" is already used by spec.rules[${names.get(r.name)}]; names are unique within a route`);
    names.set(r.name, i);
  });
  const created = meta.creationTimestamp;
  return deepFreeze({
    kind,
    namespace: name(meta.namespace ?? 'default', 'metadata.namespace', DNS_LABEL),
    name: name(meta.name, 'metadata.name'),
    creationTimestamp: typeof created === 'string' ? created : created instanceof Date ? created.toISOString().replace('.000Z', 'Z') : '',
    order,
    generation: metaNumber(meta.generation, 'metadata.generation', 1),
    parentRefs,
    hostnames,
    rules,
  });
}

/**
 * What can be read of a route object whatever its validity (for its status): kind, namespace,
 * name, metadata.generation and the parentRefs that parse (invalid ones are left out).
 */
export function readRouteHead(kind: RouteKind, o: Obj): { kind: RouteKind; namespace: string; name: string; generation: number; parentRefs: RouteParentRef[] } {
  const meta = isObj(o.metadata) ? o.metadata : {};
  const spec = isObj(o.spec) ? o.spec : {};
  const parentRefs: RouteParentRef[] = [];
  for (const p of Array.isArray(spec.parentRefs) ? spec.parentRefs : []) {
    try { parentRefs.push(parentRef(p, 'spec.parentRefs')); } catch (e) { if (!(e instanceof Invalid)) throw e; }
  }
  const g = meta.generation;
  return {
    kind,
    namespace: typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : 'default',
    name: typeof meta.name === 'string' ? meta.name : '',
    generation: typeof g === 'number' && Number.isInteger(g) && g > 0 ? g : 1,
    parentRefs,
  };
}
