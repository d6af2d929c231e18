// The semantics of the HTTP table: which entry of a Service port a request head matches, and what
// the proxy then does (redirect, 404/500/503, or forward with the rewritten head). Pure; native
// matching (native/src/l7) implements exactly this and is checked on test/fixtures/routes/cases.json.

import type { RequestHead, RouteResult, TableBackend, TableFilter, TableHeaderModifier, TableHttp, TableMatch, TablePathModifier, TableStringMatch } from './table.js';

/** Why the proxy answers a request itself (RouteResult.code). */
export const NO_ROUTE = 'MESH_ERR_NO_ROUTE';
export const INVALID_BACKEND = 'MESH_ERR_INVALID_BACKEND';
export const NO_ENDPOINTS = 'MESH_ERR_NO_ENDPOINTS';

/**
 * Routes one request arriving for `dst` (the original destination, a Service vip:port) from a
 * client pod of namespace `clientNamespace` (absent: unknown, producer routes only).
 * 1. The port whose vip and port are `dst`; none → 404 (the proxy forwards non-Service
 *    destinations to the original destination without calling route()). Its routes: the
 *    client namespace's consumer routes when it has some, else the port's `routes`.
 * 2. The first entry, in that order, whose hostnames and match both accept the request; none → 404.
 * 3. A `redirect` filter on it → its status and Location (below); no backend is picked.
 * 4. pickBackend(entry.backends, u): none (no backends, or all weights 0) → 500; the picked one
 *    `invalid` → 500; it has no endpoints → 503.
 * 5. forward: the rule's filters in order (requestHeaders, rewrite), then the backend's
 *    requestHeaders; headers come out sorted by name.
 */
export function route(table: TableHttp, dst: { readonly ip: string; readonly port: number }, head: RequestHead, u: number, clientNamespace?: string): RouteResult {
  const port = table.ports.find((p) => p.vip === dst.ip && p.port === dst.port);
  if (!port) return respond(404, NO_ROUTE, -1);
  const entries = (clientNamespace !== undefined ? port.consumers?.find((c) => c.namespace === clientNamespace)?.routes : undefined) ?? port.routes;
  const host = hostOf(head.authority);
  const i = entries.findIndex((e) => hostnameMatches(e.hostnames, host) && requestMatches(e.match, head));
  if (i < 0) return respond(404, NO_ROUTE, -1);
  const e = entries[i]!;
  for (const f of e.filters) {
    if (f.type === 'redirect') return { kind: 'respond', status: f.status, code: '', location: redirectLocation(f, e.match, head, dst.port), entry: i };
  }
  const b = pickBackend(e.backends, u);
  if (b < 0) return respond(500, INVALID_BACKEND, i);
  const backend = e.backends[b]!;
  if (backend.invalid !== undefined) return respond(500, INVALID_BACKEND, i);
  if (backend.endpoints.length === 0) return respond(503, NO_ENDPOINTS, i);
  const headers = new Map(Object.entries(head.headers));
  let authority = head.authority;
  let path = head.path;
  for (const f of e.filters) {
    if (f.type === 'requestHeaders') modifyHeaders(headers, f.modifier);
    else if (f.type === 'rewrite') {
      if (f.hostname !== undefined) authority = f.hostname;
      if (f.path) path = modifyPath(path, f.path, e.match);
    }
  }
  for (const f of backend.filters ?? []) if (f.type === 'requestHeaders') modifyHeaders(headers, f.modifier);
  const sorted = [...headers.entries()].sort(([a], [b2]) => (a < b2 ? -1 : a > b2 ? 1 : 0));
  return { kind: 'forward', entry: i, route: e.route, routeKind: e.kind, rule: e.rule, backend: b, authority, path, headers: sorted };
}

function respond(status: number, code: string, entry: number): RouteResult {
  return { kind: 'respond', status, code, entry };
}

/**
 * Index of the backend for a uniform `u` in [0,1): walk the backends with weight > 0 adding up
 * their weights; the first whose running sum exceeds u × total wins (u clamped into [0,1)).
 * -1 when no backend has a positive weight. Deterministic, so native and TypeScript agree.
 */
export function pickBackend(backends: readonly Pick<TableBackend, 'weight'>[], u: number): number {
  let total = 0;
  for (const b of backends) if (b.weight > 0) total += b.weight;
  if (total <= 0) return -1;
  const target = Math.min(Math.max(u, 0), 1) * total;
  let sum = 0;
  let last = -1;
  for (let i = 0; i < backends.length; i++) {
    const w = backends[i]!.weight;
    if (w <= 0) continue;
    sum += w;
    last = i;
    if (target < sum) return i;
  }
  return last;
}

/** The hostname of an authority: lowercase, the port (and an IPv6 literal's brackets kept) removed. */
export function hostOf(authority: string): string {
  const a = authority.toLowerCase();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    return end < 0 ? a : a.slice(0, end + 1);
  }
  const colon = a.lastIndexOf(':');
  return colon >= 0 && /^[0-9]*$/.test(a.slice(colon + 1)) ? a.slice(0, colon) : a;
}

/** Gateway API hostnames: none → any; `*.example.com` matches one or more labels before `.example.com`. */
export function hostnameMatches(hostnames: readonly string[], host: string): boolean {
  if (hostnames.length === 0) return true;
  return hostnames.some((h) => (h.startsWith('*.') ? host.length > h.length - 1 && host.endsWith(h.slice(1)) : host === h));
}

/** Path, method, headers and query parameters, all ANDed. */
export function requestMatches(m: TableMatch, head: RequestHead): boolean {
  if (m.path && !pathMatches(m.path, head.path)) return false;
  if (m.method !== undefined && m.method !== head.method) return false;
  for (const h of m.headers) {
    const v = head.headers[h.name] ?? (h.name === 'host' ? head.authority : undefined);
    if (v === undefined || !valueMatches(h, v)) return false;
  }
  if (m.query.length > 0) {
    const q = queryParams(head.query);
    for (const p of m.query) {
      const v = q.get(p.name);
      if (v === undefined || !valueMatches(p, v)) return false;
    }
  }
  return true;
}

/**
 * exact: the same string. prefix: whole segments, a trailing '/' of the prefix ignored — `/foo`
 * and `/foo/` both match `/foo`, `/foo/` and `/foo/bar`, never `/foobar`; `/` matches every path.
 * regex: the whole path.
 */
export function pathMatches(p: NonNullable<TableMatch['path']>, path: string): boolean {
  if (p.kind === 'exact') return path === p.value;
  if (p.kind === 'regex') return fullMatch(p.value, path);
  const prefix = trimSlash(p.value);
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
}

function trimSlash(v: string): string {
  return v.endsWith('/') ? v.slice(0, -1) : v;
}

function valueMatches(m: TableStringMatch, v: string): boolean {
  return m.kind === 'exact' ? v === m.value : fullMatch(m.value, v);
}

/** name → value of the first occurrence; names and values as received (no percent-decoding); `a` alone is `a` = ''. */
export function queryParams(query: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(name)) out.set(name, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

const regexes = new Map<string, RegExp | null>();

/**
 * Anchored match, compiled without flags as the controller validates patterns (checkRegex: the
 * subset JavaScript and Rust's regex crate read alike); one JavaScript cannot compile matches nothing.
 */
function fullMatch(pattern: string, v: string): boolean {
  let re = regexes.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern})$`);
    } catch {
      re = null;
    }
    if (regexes.size > 10_000) regexes.clear();
    regexes.set(pattern, re);
  }
  return re !== null && re.test(v);
}

/** set replaces (or adds), add appends `,value` to a present header, remove deletes; in that order. */
function modifyHeaders(headers: Map<string, string>, m: TableHeaderModifier): void {
  for (const { name, value } of m.set) headers.set(name, value);
  for (const { name, value } of m.add) {
    const old = headers.get(name);
    headers.set(name, old === undefined ? value : `${old},${value}`);
  }
  for (const name of m.remove) headers.delete(name);
}

/**
 * full: the value. prefix: the matched prefix (trailing '/' ignored) replaced by the value (its
 * trailing '/' ignored), '' becoming '/': with prefix /foo, /foo/bar → /xyz/bar, /foo/ → /xyz/,
 * and with '' as value /foo → /. A prefix modifier on an entry without a prefix match changes nothing.
 */
export function modifyPath(path: string, m: TablePathModifier, match: TableMatch): string {
  if (m.kind === 'full') return m.value;
  if (match.path?.kind !== 'prefix') return path;
  const prefix = trimSlash(match.path.value);
  const out = trimSlash(m.value) + path.slice(prefix.length);
  return out === '' ? '/' : out;
}

/**
 * Location of a redirect: scheme (default http), hostname (default the request's, port removed),
 * port (default: 80/443 when the filter sets the scheme, else the Service port the request came
 * to), omitted for http:80 and https:443; path (modified, else the request's) and the query kept.
 */
function redirectLocation(f: Extract<TableFilter, { type: 'redirect' }>, match: TableMatch, head: RequestHead, listenerPort: number): string {
  const scheme = f.scheme ?? 'http';
  const host = f.hostname ?? hostOf(head.authority);
  const port = f.port ?? (f.scheme !== undefined ? (scheme === 'https' ? 443 : scheme === 'http' ? 80 : listenerPort) : listenerPort);
  const showPort = !((scheme === 'http' && port === 80) || (scheme === 'https' && port === 443));
  const path = f.path ? modifyPath(head.path, f.path, match) : head.path;
  return `${scheme}://${host}${showPort ? `:${port}` : ''}${path}${head.query !== '' ? `?${head.query}` : ''}`;
}
