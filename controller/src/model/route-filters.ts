// Parsers of the Gateway API route filters (RequestHeaderModifier, ResponseHeaderModifier,
// RequestRedirect, URLRewrite, RequestMirror) and of object references, with the v1 CRD rules:
// the required field per type, one action per header name, path modifiers. Invalid has the path.

import type { BackendObjectRef, HeaderModifier, PathModifier, RouteFilter } from './route-types.js';
import { DNS_LABEL, Invalid, isObj, name, obj, port, type Obj } from './fields.js';
import { GROUP, KIND, PRECISE_HOSTNAME, headerName } from './route-syntax.js';

export function list(v: unknown, path: string, max: number, optional = true): unknown[] {
  if ((v === undefined || v === null) && optional) return [];
  if (!Array.isArray(v)) throw new Invalid(path, 'must be a list');
  if (v.length > max) throw new Invalid(path, `must have at most ${max} items, got ${v.length}`);
  return v;
}

export function string(v: unknown, path: string, max: number, min = 1): string {
  if (typeof v !== 'string') throw new Invalid(path, `must be a string, got ${JSON.stringify(v)}`);
  if (v.length < min) throw new Invalid(path, min === 1 ? 'must be a non-empty string' : `must have at least ${min} characters`);
  if (v.length > max) throw new Invalid(path, `must have at most ${max} characters`);
  return v;
}

export function pattern(v: unknown, path: string, re: RegExp, max: number, what: string): string {
  const s = string(v, path, max, 0);
  if (!re.test(s)) throw new Invalid(path, `"${s}" is not a valid ${what}`);
  return s;
}

export function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Invalid(path, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

/** BackendObjectReference: group '' and kind Service by default; Service references need a port. */
export function objectRef(v: unknown, path: string, checkWeight?: (b: Obj) => void): BackendObjectRef {
  const b = obj(v, path);
  const group = b.group === undefined ? '' : pattern(b.group, `${path}.group`, GROUP, 253, 'API group');
  const kind = b.kind === undefined ? 'Service' : pattern(b.kind, `${path}.kind`, KIND, 63, 'kind');
  const nm = string(b.name, `${path}.name`, 253);
  const ns = b.namespace === undefined ? undefined : name(b.namespace, `${path}.namespace`, DNS_LABEL);
  checkWeight?.(b);
  if (b.port === undefined && group === '' && kind === 'Service') throw new Invalid(`${path}.port`, 'is required for a Service backend (the Service port to send to)');
  const p = b.port === undefined ? undefined : port(b.port, `${path}.port`);
  return { group, kind, name: nm, ...(ns !== undefined ? { namespace: ns } : {}), ...(p !== undefined ? { port: p } : {}) };
}

function headerModifier(v: unknown, path: string): HeaderModifier {
  const m = obj(v, path);
  const seen = new Map<string, string>();
  const claim = (n: string, p: string): void => {
    const k = n.toLowerCase();
    const prev = seen.get(k);
    if (prev !== undefined) throw new Invalid(p, `header "${n}" already has an action at ${prev}; only one action per header name is allowed`);
    seen.set(k, p);
  };
  const pairs = (key: 'set' | 'add'): { name: string; value: string }[] => list(m[key], `${path}.${key}`, 16).map((h, i) => {
    const hp = `${path}.${key}[${i}]`;
    const ho = obj(h, hp);
    const n = headerName(ho.name, `${hp}.name`);
    claim(n, `${hp}.name`);
    return { name: n, value: string(ho.value, `${hp}.value`, 4096) };
  });
  const set = pairs('set');
  const add = pairs('add');
  const remove = list(m.remove, `${path}.remove`, 16).map((h, i) => {
    const n = headerName(h, `${path}.remove[${i}]`);
    claim(n, `${path}.remove[${i}]`);
    return n;
  });
  return { set, add, remove };
}

function pathModifier(v: unknown, path: string): PathModifier {
  const m = obj(v, path);
  if (m.type === 'ReplaceFullPath') {
    if (m.replacePrefixMatch !== undefined) throw new Invalid(`${path}.replacePrefixMatch`, "must not be set when type is 'ReplaceFullPath'");
    if (m.replaceFullPath === undefined) throw new Invalid(`${path}.replaceFullPath`, "must be specified when type is 'ReplaceFullPath'");
    return { type: 'ReplaceFullPath', replaceFullPath: string(m.replaceFullPath, `${path}.replaceFullPath`, 1024, 0) };
  }
  if (m.type === 'ReplacePrefixMatch') {
    if (m.replaceFullPath !== undefined) throw new Invalid(`${path}.replaceFullPath`, "must not be set when type is 'ReplacePrefixMatch'");
    if (m.replacePrefixMatch === undefined) throw new Invalid(`${path}.replacePrefixMatch`, "must be specified when type is 'ReplacePrefixMatch'");
    return { type: 'ReplacePrefixMatch', replacePrefixMatch: string(m.replacePrefixMatch, `${path}.replacePrefixMatch`, 1024, 0) };
  }
  throw new Invalid(`${path}.type`, `must be ReplaceFullPath or ReplacePrefixMatch, got ${JSON.stringify(m.type)}`);
}

function hostname(v: unknown, path: string): string {
  return pattern(typeof v === 'string' ? v.toLowerCase() : v, path, PRECISE_HOSTNAME, 253, 'hostname (DNS labels, no wildcard)');
}

const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;

function mirror(v: unknown, path: string): RouteFilter {
  const m = obj(v, path);
  const backendRef = objectRef(m.backendRef, `${path}.backendRef`);
  if (m.percent !== undefined && m.fraction !== undefined) throw new Invalid(`${path}.fraction`, 'only one of percent or fraction may be specified');
  let percent = 100;
  if (m.percent !== undefined) percent = int(m.percent, `${path}.percent`, 0, 100);
  if (m.fraction !== undefined) {
    const f = obj(m.fraction, `${path}.fraction`);
    const numerator = int(f.numerator, `${path}.fraction.numerator`, 0, 2 ** 31 - 1);
    const denominator = f.denominator === undefined ? 100 : int(f.denominator, `${path}.fraction.denominator`, 1, 2 ** 31 - 1);
    if (numerator > denominator) throw new Invalid(`${path}.fraction`, 'numerator must be less than or equal to denominator');
    percent = (numerator / denominator) * 100;
  }
  return { type: 'RequestMirror', requestMirror: { backendRef, percent } };
}

const FIELD_OF: Record<string, string> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
};

/**
 * One filter. `allowed` lists the types this position takes (GRPCRoute: no redirect or rewrite;
 * backendRefs[].filters: header modifiers only); others are rejected as unsupported.
 */
export function parseFilter(v: unknown, path: string, allowed: readonly string[]): RouteFilter {
  const f = obj(v, path);
  const type = f.type;
  if (typeof type !== 'string' || !allowed.includes(type)) {
    throw new Invalid(`${path}.type`, `unsupported filter type ${JSON.stringify(type)} here; supported: ${allowed.join(', ')}`);
  }
  for (const [t, field] of Object.entries(FIELD_OF)) {
    if (t !== type && f[field] !== undefined) throw new Invalid(`${path}.${field}`, `must not be set when the filter type is ${type}`);
  }
  const field = FIELD_OF[type]!;
  if (!isObj(f[field])) throw new Invalid(`${path}.${field}`, `must be specified for a ${type} filter`);
  const fp = `${path}.${field}`;
  const body = f[field];
  switch (type) {
    case 'RequestHeaderModifier': return { type, requestHeaderModifier: headerModifier(body, fp) };
    case 'ResponseHeaderModifier': return { type, responseHeaderModifier: headerModifier(body, fp) };
    case 'RequestMirror': return mirror(body, fp);
    case 'URLRewrite': {
      const hn = body.hostname === undefined ? undefined : hostname(body.hostname, `${fp}.hostname`);
      const p = body.path === undefined ? undefined : pathModifier(body.path, `${fp}.path`);
      return { type, urlRewrite: { ...(hn !== undefined ? { hostname: hn } : {}), ...(p ? { path: p } : {}) } };
    }
    default: {
      if (body.scheme !== undefined && body.scheme !== 'http' && body.scheme !== 'https') throw new Invalid(`${fp}.scheme`, `must be http or https, got ${JSON.stringify(body.scheme)}`);
      const statusCode = body.statusCode === undefined ? 302 : body.statusCode;
      if (!(REDIRECT_CODES as readonly unknown[]).includes(statusCode)) throw new Invalid(`${fp}.statusCode`, `must be one of ${REDIRECT_CODES.join(', ')}, got ${JSON.stringify(statusCode)}`);
      const hn = body.hostname === undefined ? undefined : hostname(body.hostname, `${fp}.hostname`);
      const p = body.path === undefined ? undefined : pathModifier(body.path, `${fp}.path`);
      const po = body.port === undefined ? undefined : port(body.port, `${fp}.port`);
      return {
        type: 'RequestRedirect',
        requestRedirect: {
          ...(body.scheme !== undefined ? { scheme: body.scheme } : {}),
          ...(hn !== undefined ? { hostname: hn } : {}),
          ...(po !== undefined ? { port: po } : {}),
          ...(p ? { path: p } : {}),
          statusCode: statusCode as (typeof REDIRECT_CODES)[number],
        },
      };
    }
  }
}

/** The rule-level filter list checks of the CRD: no repeats of a singleton type, no redirect with a rewrite. */
export function checkFilterSet(filters: readonly RouteFilter[], path: string): void {
  const first = new Map<string, number>();
  filters.forEach((f, i) => {
    if (f.type !== 'RequestMirror' && first.has(f.type)) throw new Invalid(`${path}[${i}].type`, `${f.type} filter cannot be repeated (first at ${path}[${first.get(f.type)}])`);
    if (!first.has(f.type)) first.set(f.type, i);
  });
  if (first.has('RequestRedirect') && first.has('URLRewrite')) {
    const i = Math.max(first.get('RequestRedirect')!, first.get('URLRewrite')!);
    throw new Invalid(`${path}[${i}].type`, 'may specify either RequestRedirect or URLRewrite, but not both');
  }
}

export function parseFilters(v: unknown, path: string, allowed: readonly string[]): RouteFilter[] {
  const filters = list(v, path, 16).map((f, i) => parseFilter(f, `${path}[${i}]`, allowed));
  checkFilterSet(filters, path);
  return filters;
}
