// HTTP half of authorization: matching one operation's HTTP fields (methods, paths, hosts, headers
// and their not-forms) against a request, the path normalization applied before path matching,
// and which ports of a workload need the request at all (needsHttp). Pure; native/src/l7/authz_http.rs
// is the same code.

import type { AuthzHttpRequest, TableAuthz, TableAuthzHttp, TableAuthzWorkload } from './types.js';

/**
 * An authorization value pattern: "*" matches anything, "abc*" a prefix, "*abc" a suffix, anything
 * else exactly (Istio's string match; a star elsewhere is literal, the CRD forbids it).
 */
export function valueMatches(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * The path authorization matches (Istio's BASE normalization, RFC 3986 §6.2.2): percent-encoded
 * unreserved characters decoded, other escapes' hex uppercased, "." and ".." segments removed.
 * "/public/../admin" is matched as "/admin" and "/%61dmin" as "/admin"; "%2F" stays encoded and
 * double slashes stay. A path not starting with '/' ('*' of OPTIONS) is returned unchanged.
 */
export function normalizePath(path: string): string {
  if (!path.startsWith('/')) return path;
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    const hex = c === '%' ? path.slice(i + 1, i + 3) : '';
    if (hex.length === 2 && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      const ch = String.fromCharCode(parseInt(hex, 16));
      decoded += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
      i += 2;
    } else {
      // a '%' that starts no escape is escaped itself, so no new escape forms (idempotent)
      decoded += c === '%' ? '%25' : c;
    }
  }
  const segs = decoded.split('/').slice(1);
  const out: string[] = [];
  segs.forEach((s, k) => {
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      if (k === segs.length - 1) out.push('');
    } else {
      out.push(s);
    }
  });
  return `/${out.join('/')}`;
}

/** The host of a Host / :authority value: lowercase, without a port ("[::1]:80" → "[::1]"). */
export function hostOf(authority: string): string {
  const a = authority.toLowerCase();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    return end < 0 ? a : a.slice(0, end + 1);
  }
  const colon = a.indexOf(':');
  return colon < 0 ? a : a.slice(0, colon);
}

function listMatches(patterns: readonly string[] | undefined, value: string, want: boolean): boolean {
  return patterns === undefined || patterns.some((p) => valueMatches(p, value)) === want;
}

/** Every field the operation sets matches the request (a not-field: no listed value matches). */
export function httpMatches(h: TableAuthzHttp, req: AuthzHttpRequest): boolean {
  const path = normalizePath(req.path);
  const host = hostOf(req.authority);
  // methods are exact (case-sensitive, RFC 9110 §9.1)
  if (h.methods && !h.methods.includes(req.method)) return false;
  if (h.notMethods?.includes(req.method)) return false;
  if (!listMatches(h.paths, path, true) || !listMatches(h.notPaths, path, false)) return false;
  if (!listMatches(h.hosts, host, true) || !listMatches(h.notHosts, host, false)) return false;
  for (const { name, values } of h.headers ?? []) {
    const v = req.headers[name];
    if (v === undefined || !values.some((p) => valueMatches(p, v))) return false;
  }
  return true;
}

/** The needsHttp of a workload: false, true (every port) or the sorted pod ports with an L7 rule. */
export function workloadNeedsHttp(t: Pick<TableAuthz, 'policies'>, policies: readonly number[]): boolean | number[] {
  const ports = new Set<number>();
  for (const idx of policies) {
    for (const r of t.policies[idx]?.rules ?? []) {
      if (!r.l7) continue;
      if (r.ports === null) return true;
      for (const p of r.ports) ports.add(p);
    }
  }
  return ports.size === 0 ? false : [...ports].sort((a, b) => a - b);
}

/**
 * Whether authorizing a connection to dstIp:dstPort needs its HTTP requests: the inbound path
 * then parses HTTP and calls authorize() per request (a connection that turns out not to be HTTP
 * is authorized without one). Reads the table's needsHttp (absent: false).
 */
export function needsHttp(t: TableAuthz, dstIp: string, dstPort: number): boolean {
  const n: TableAuthzWorkload['needsHttp'] = t.workloads.find((w) => w.ip === dstIp)?.needsHttp ?? false;
  return typeof n === 'boolean' ? n : n.includes(dstPort);
}
