// Pure evaluation of inbound authorization over a compiled TableAuthz, per connection or per HTTP
// request: mTLS mode, then DENY, AUDIT and ALLOW policies, then the workload's default policy.
// native/src/proxy/authz.rs is the same algorithm; test/fixtures/authz/cases.json holds the rows.

import { httpMatches } from './http.js';
import type { AuthzHttpRequest, AuthzInput, AuthzVerdict, TableAuthz, TableAuthzPolicy, TableAuthzRule, TableAuthzSource, TableAuthzWorkload, TlsMode } from './types.js';
import { MESH_DEFAULT_POLICY } from './types.js';

const NO_WORKLOAD: AuthzVerdict = Object.freeze({ allow: true, code: '', policy: '', audit: '' });

/**
 * Authorizes one inbound connection:
 * 1. a destination that is not a workload of the table is allowed (policy '');
 * 2. STRICT mode (the port's override, else the workload's) refuses plaintext: MESH_ERR_MTLS_REQUIRED;
 * 3. any matching DENY policy denies (the first one is named); the first matching AUDIT policy is
 *    noted in every later verdict; when ALLOW policies apply, the first matching one allows and
 *    none matching denies, naming the first ALLOW policy;
 * 4. otherwise the default policy decides, named "default:<policy>".
 * A rule matches when its from, its ports and its HTTP fields match. With no HTTP request (a TCP
 * connection) a rule with HTTP fields never matches in an ALLOW or AUDIT policy and matches on its
 * other fields alone in a DENY policy (Istio: HTTP-only fields on TCP traffic make an ALLOW rule
 * invalid, ignored, and a DENY rule more restrictive). With a request, every field is matched.
 */
export function authorize(t: TableAuthz, i: AuthzInput, http?: AuthzHttpRequest): AuthzVerdict {
  const w = t.workloads.find((x) => x.ip === i.dstIp);
  if (!w) return NO_WORKLOAD;
  if (modeAt(w, i.dstPort) === 'STRICT' && i.transport === 'plaintext') {
    return { allow: false, code: 'MESH_ERR_MTLS_REQUIRED', policy: w.modePolicy || MESH_DEFAULT_POLICY, audit: '' };
  }
  let deny = '';
  let audit = '';
  let firstAllow = '';
  let allowed = '';
  for (const idx of w.policies) {
    const p = t.policies[idx];
    if (!p) throw new RangeError(`workload ${w.ip}: policy index ${idx} is out of range`);
    switch (p.action) {
      case 'DENY':
        if (!deny && policyMatches(p, i, http)) deny = p.name;
        break;
      case 'AUDIT':
        if (!audit && policyMatches(p, i, http)) audit = p.name;
        break;
      case 'ALLOW':
        if (!firstAllow) firstAllow = p.name;
        if (!allowed && policyMatches(p, i, http)) allowed = p.name;
        break;
    }
  }
  if (deny) return { allow: false, code: 'MESH_ERR_AUTHZ_DENIED', policy: deny, audit };
  if (firstAllow) return allowed ? { allow: true, code: '', policy: allowed, audit } : { allow: false, code: 'MESH_ERR_AUTHZ_DENIED', policy: firstAllow, audit };
  const ok = defaultAllows(w.defaultPolicy, i.identity, t.trustDomain);
  return { allow: ok, code: ok ? '' : 'MESH_ERR_AUTHZ_DENIED', policy: `default:${w.defaultPolicy}`, audit };
}

function modeAt(w: TableAuthzWorkload, port: number): TlsMode {
  return w.portModes.find((p) => p.port === port)?.mode ?? w.mode;
}

function defaultAllows(policy: TableAuthzWorkload['defaultPolicy'], identity: string | null, trustDomain: string): boolean {
  switch (policy) {
    case 'all-unauthenticated': return true;
    case 'all-authenticated': return identity !== null;
    case 'cluster-authenticated': return identity !== null && identity.startsWith(`spiffe://${trustDomain}/`);
    case 'deny': return false;
  }
}

function policyMatches(p: TableAuthzPolicy, i: AuthzInput, http: AuthzHttpRequest | undefined): boolean {
  return p.rules.some((r) => ruleMatches(r, p.action === 'DENY', i, http));
}

/** Without a request an L7 rule never matches for ALLOW and AUDIT; for DENY it matches on its L4 fields alone. */
function ruleMatches(r: TableAuthzRule, deny: boolean, i: AuthzInput, http: AuthzHttpRequest | undefined): boolean {
  if (r.l7 && !http && !deny) return false;
  if (r.ports !== null && !r.ports.includes(i.dstPort)) return false;
  if (r.l7 && http && !httpMatches(r.http ?? {}, http)) return false;
  return r.from === null || r.from.some((s) => sourceMatches(s, i));
}

function sourceMatches(s: TableAuthzSource, i: AuthzInput): boolean {
  if (s.identities && !(i.identity !== null && s.identities.some((g) => globMatches(g, i.identity!)))) return false;
  if (s.namespaces) {
    const ns = i.identity === null ? undefined : identityNamespace(i.identity);
    if (ns === undefined || !s.namespaces.includes(ns)) return false;
  }
  if (s.ipBlocks) {
    const src = parseIpv4(i.srcIp);
    if (src === undefined || !s.ipBlocks.some((c) => cidrContains(c, src))) return false;
  }
  return true;
}

/**
 * A SPIFFE identity glob: '*' alone matches any identity; otherwise pattern and identity have the
 * same number of '/'-separated segments and '*' matches any run of characters inside a segment.
 */
export function globMatches(pattern: string, identity: string): boolean {
  if (pattern === '*') return true;
  const ps = pattern.split('/');
  const ts = identity.split('/');
  return ps.length === ts.length && ps.every((p, k) => segmentMatches(p, ts[k]!));
}

/** '*' wildcard match of one segment (greedy with backtracking to the last star; linear). */
function segmentMatches(p: string, t: string): boolean {
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    if (pi < p.length && p[pi] !== '*' && p[pi] === t[ti]) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** The namespace of spiffe://<td>/ns/<ns>/sa/<sa>; undefined for any other shape. */
export function identityNamespace(id: string): string | undefined {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(id);
  return m?.[1];
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const PREFIX = /^(3[0-2]|[12]?[0-9])$/;

/** A dotted-quad IPv4 address as an unsigned 32-bit number (no leading zeros); undefined if malformed. */
export function parseIpv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** "a.b.c.d/len" (or "a.b.c.d" = /32) as network and mask; host bits are ignored. */
export function parseCidr(s: string): { net: number; mask: number } | undefined {
  const slash = s.indexOf('/');
  const ip = parseIpv4(slash < 0 ? s : s.slice(0, slash));
  const lenText = slash < 0 ? '32' : s.slice(slash + 1);
  if (ip === undefined || !PREFIX.test(lenText)) return undefined;
  const len = Number(lenText);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { net: (ip & mask) >>> 0, mask };
}

function cidrContains(cidr: string, ip: number): boolean {
  const c = parseCidr(cidr);
  return c !== undefined && ((ip & c.mask) >>> 0) === c.net;
}
