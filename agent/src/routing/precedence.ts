// Gateway API matching precedence between the (route, rule, match, hostname) entries of one
// Service port (docs/l7.md): a sort key per entry and the comparison the compiler sorts by, so that
// "first matching entry wins" in route() and in native matching is the precedence of the spec.

import type { TableMatch } from './table.js';

/** Rank of the path kind: exact > prefix > regex > none (the spec leaves regex to implementations). */
const PATH_RANK = { exact: 3, prefix: 2, regex: 1 } as const;

export interface EntryKey {
  /** 2 an exact hostname, 1 a wildcard one, 0 none (any authority): the spec's hostname precedence */
  readonly hostRank: number;
  /** characters of that hostname */
  readonly hostLength: number;
  readonly pathRank: number;
  /** within a rank: GRPCRoute method-only (1) before a regular expression (0) */
  readonly pathSubRank: number;
  /** characters of the exact path, prefix or pattern */
  readonly pathLength: number;
  readonly method: boolean;
  readonly headers: number;
  readonly query: number;
  /** creationTimestamp in ms; +Infinity when unknown */
  readonly created: number;
  /** the route's position in its source */
  readonly order: number;
  /** "namespace/name" of the route */
  readonly name: string;
  readonly kind: string;
  readonly rule: number;
  readonly match: number;
  /** index of the hostname in the route's list */
  readonly host: number;
}

export function hostRank(hostname: string | undefined): { hostRank: number; hostLength: number } {
  if (hostname === undefined) return { hostRank: 0, hostLength: 0 };
  return { hostRank: hostname.startsWith('*.') ? 1 : 2, hostLength: hostname.length };
}

export function pathRank(m: TableMatch, grpcMethodOnly = false): { pathRank: number; pathSubRank: number; pathLength: number } {
  if (!m.path) return { pathRank: 0, pathSubRank: 0, pathLength: 0 };
  return { pathRank: PATH_RANK[m.path.kind], pathSubRank: grpcMethodOnly ? 1 : 0, pathLength: m.path.value.length };
}

/** RFC 3339 → ms; '' or unparsable → +Infinity (newest, so known-old routes keep precedence). */
export function createdMs(ts: string): number {
  const ms = ts === '' ? NaN : Date.parse(ts);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/**
 * Negative when `a` takes precedence: more specific hostname, then path rank and length, a
 * method, more header then query matches; ties: older route, its source order, namespace/name
 * (then kind), rule, match and hostname order.
 */
export function compareKeys(a: EntryKey, b: EntryKey): number {
  return (
    b.hostRank - a.hostRank ||
    b.hostLength - a.hostLength ||
    b.pathRank - a.pathRank ||
    b.pathSubRank - a.pathSubRank ||
    b.pathLength - a.pathLength ||
    Number(b.method) - Number(a.method) ||
    b.headers - a.headers ||
    b.query - a.query ||
    compareNumbers(a.created, b.created) ||
    a.order - b.order ||
    compareStrings(a.name, b.name) ||
    compareStrings(a.kind, b.kind) ||
    a.rule - b.rule ||
    a.match - b.match ||
    a.host - b.host
  );
}

function compareNumbers(a: number, b: number): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

function compareStrings(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}
