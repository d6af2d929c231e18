// `nodemesh stat`, pure: success rate, requests per second, latency quantiles, TCP connections
// and bytes per workload, Service or route over a window, from two reports of each agent (their
// counters' difference). A request seen by both hops is counted once: for each (client, server)
// pair the client side's outbound series are used, the server side's inbound only when none exist.

import type { HttpCounters, Peer, Snapshot, TcpCounters } from './reports.js';

export type StatKind = 'workload' | 'service' | 'route';

export interface StatRow {
  readonly kind: StatKind;
  readonly namespace: string;
  readonly name: string;
  /** workload rows: its pods, and how many of them are meshed */
  readonly pods?: { readonly meshed: number; readonly total: number };
  readonly requests: number;
  /** null: no requests in the window */
  readonly successRate: number | null;
  readonly rps: number;
  readonly latencyMs: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
  readonly tcp: { readonly open: number; readonly openedPerSec: number; readonly readBytesPerSec: number; readonly writeBytesPerSec: number };
}

export interface StatQuery {
  readonly kind: StatKind;
  /** only rows of this namespace */
  readonly namespace?: string;
  /** only this row */
  readonly name?: string;
  /** only traffic from this client workload ("ns/name") */
  readonly from?: string;
}

export interface WindowPair { readonly node: string; readonly end: Snapshot; readonly start: Snapshot | undefined }

const peerKey = (p: Peer): string => `${p.namespace}/${p.workload}`;
const httpKey = (h: HttpCounters): string => `${h.direction}|${peerKey(h.src)}|${peerKey(h.dst)}|${h.route}|${h.routeKind}|${h.backend}|${h.tls}`;
const tcpKey = (t: TcpCounters): string => `${t.direction}|${peerKey(t.src)}|${peerKey(t.dst)}`;

interface HttpDelta { readonly c: HttpCounters; readonly requests: number; readonly successes: number; readonly failures: number; readonly counts: readonly number[]; readonly seconds: number }
interface TcpDelta { readonly c: TcpCounters; readonly opened: number; readonly bytesRead: number; readonly bytesWritten: number; readonly seconds: number }

/** Counter differences per series over each node's window (a series new in the window counts from 0). */
export function deltas(pairs: readonly WindowPair[]): { http: HttpDelta[]; tcp: TcpDelta[]; buckets: readonly number[] } {
  const http: HttpDelta[] = [];
  const tcp: TcpDelta[] = [];
  let buckets: readonly number[] = [];
  for (const { end, start } of pairs) {
    if (end.bucketsMs.length > buckets.length) buckets = end.bucketsMs;
    const seconds = Math.max(0.001, (end.atMs - (start ? start.atMs : end.startedAtMs)) / 1000);
    const h0 = new Map((start?.http ?? []).map((h) => [httpKey(h), h]));
    for (const h of end.http) {
      const b = h0.get(httpKey(h));
      const d = (x: number, y: number | undefined): number => Math.max(0, x - (y ?? 0));
      http.push({
        c: h, seconds, requests: d(h.requests, b?.requests), successes: d(h.successes, b?.successes), failures: d(h.failures, b?.failures),
        counts: h.latencyCounts.map((n, i) => d(n, b?.latencyCounts[i])),
      });
    }
    const t0 = new Map((start?.tcp ?? []).map((t) => [tcpKey(t), t]));
    for (const t of end.tcp) {
      const b = t0.get(tcpKey(t));
      tcp.push({ c: t, seconds, opened: Math.max(0, t.opened - (b?.opened ?? 0)), bytesRead: Math.max(0, t.bytesRead - (b?.bytesRead ?? 0)), bytesWritten: Math.max(0, t.bytesWritten - (b?.bytesWritten ?? 0)) });
    }
  }
  return { http, tcp, buckets };
}

/** Linear interpolation inside the bucket holding rank q × total (histogram_quantile's rule);
 *  the overflow bucket answers its lower bound. null when there is nothing counted. */
export function quantile(q: number, bounds: readonly number[], counts: readonly number[]): number | null {
  const total = counts.reduce((s, n) => s + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (cum + n >= rank && n > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? 0;
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const hi = bounds[i]!;
      return lo + (hi - lo) * ((rank - cum) / n);
    }
    cum += n;
  }
  return bounds[bounds.length - 1] ?? 0;
}

/** Keeps, per (client, server) pair, the outbound series when there are any, else the inbound. */
function once<T extends { readonly c: { readonly direction: string; readonly src: Peer; readonly dst: Peer } }>(rows: readonly T[]): T[] {
  const outPairs = new Set(rows.filter((r) => r.c.direction === 'outbound').map((r) => `${peerKey(r.c.src)}>${peerKey(r.c.dst)}`));
  return rows.filter((r) => r.c.direction === 'outbound' || !outPairs.has(`${peerKey(r.c.src)}>${peerKey(r.c.dst)}`));
}

/** A pod's workload: "namespace/service-account". */
export function workloadKey(p: { readonly key: string; readonly workload: string }): string {
  return `${p.key.slice(0, p.key.indexOf('/'))}/${p.workload || p.key.slice(p.key.indexOf('/') + 1)}`;
}

function splitName(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export function stat(pairs: readonly WindowPair[], q: StatQuery): StatRow[] {
  const { http, tcp, buckets } = deltas(pairs);
  const from = (p: Peer): boolean => !q.from || peerKey(p) === q.from;
  const groupOf = (h: HttpCounters): string | undefined => q.kind === 'workload' ? peerKey(h.dst)
    : q.kind === 'service' ? (h.direction === 'outbound' ? h.backend : undefined)
    : (h.direction === 'outbound' && h.routeKind !== 'default' && h.route ? `${h.route}` : undefined);
  interface Acc { requests: number; successes: number; failures: number; counts: number[]; rps: number; open: number; opened: number; read: number; written: number }
  const acc = new Map<string, Acc>();
  const get = (k: string): Acc => {
    let a = acc.get(k);
    if (!a) { a = { requests: 0, successes: 0, failures: 0, counts: new Array<number>(buckets.length + 1).fill(0), rps: 0, open: 0, opened: 0, read: 0, written: 0 }; acc.set(k, a); }
    return a;
  };
  for (const d of once(http)) {
    const k = groupOf(d.c);
    if (!k || !from(d.c.src)) continue;
    const a = get(k);
    a.requests += d.requests;
    a.successes += d.successes;
    a.failures += d.failures;
    a.rps += d.requests / d.seconds;
    d.counts.forEach((n, i) => { if (i < a.counts.length) a.counts[i]! += n; });
  }
  if (q.kind === 'workload') {
    for (const d of once(tcp)) {
      if (!from(d.c.src)) continue;
      const a = get(peerKey(d.c.dst));
      a.open += d.c.open;
      a.opened += d.opened / d.seconds;
      a.read += d.bytesRead / d.seconds;
      a.written += d.bytesWritten / d.seconds;
    }
    // every known workload gets a row, with or without traffic
    for (const p of pairs) for (const pod of p.end.pods) get(workloadKey(pod));
  }
  const pods = new Map<string, { meshed: number; total: number }>();
  for (const p of pairs) for (const pod of p.end.pods) {
    const k = workloadKey(pod);
    const c = pods.get(k) ?? { meshed: 0, total: 0 };
    c.total++;
    if (pod.meshed) c.meshed++;
    pods.set(k, c);
  }
  const rows: StatRow[] = [];
  for (const [k, a] of acc) {
    const { namespace, name } = splitName(k);
    if (k.startsWith('unknown/') || (q.namespace && namespace !== q.namespace) || (q.name && name !== q.name && k !== q.name)) continue;
    const responses = a.successes + a.failures;
    const r3 = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);
    rows.push({
      kind: q.kind, namespace, name,
      ...(q.kind === 'workload' ? { pods: pods.get(k) ?? { meshed: 0, total: 0 } } : {}),
      requests: a.requests,
      successRate: responses > 0 ? a.successes / responses : null,
      rps: Math.round(a.rps * 100) / 100,
      latencyMs: { p50: r3(quantile(0.5, buckets, a.counts)), p95: r3(quantile(0.95, buckets, a.counts)), p99: r3(quantile(0.99, buckets, a.counts)) },
      tcp: { open: a.open, openedPerSec: Math.round(a.opened * 100) / 100, readBytesPerSec: Math.round(a.read), writeBytesPerSec: Math.round(a.written) },
    });
  }
  return rows.sort((x, y) => (x.namespace + '/' + x.name < y.namespace + '/' + y.name ? -1 : 1));
}

export interface Edge { readonly src: string; readonly dst: string; readonly requests: number; readonly rps: number; readonly successRate: number | null; readonly p99Ms: number | null; readonly tcpOpen: number; readonly mtls: boolean }

/** The service graph: one edge per (client workload, server workload) with its golden metrics. */
export function edges(pairs: readonly WindowPair[]): Edge[] {
  const { http, tcp, buckets } = deltas(pairs);
  const m = new Map<string, { requests: number; successes: number; failures: number; rps: number; counts: number[]; open: number; mtls: boolean }>();
  const get = (s: Peer, d: Peer): { requests: number; successes: number; failures: number; rps: number; counts: number[]; open: number; mtls: boolean } => {
    const k = `${peerKey(s)}>${peerKey(d)}`;
    let e = m.get(k);
    if (!e) { e = { requests: 0, successes: 0, failures: 0, rps: 0, counts: new Array<number>(buckets.length + 1).fill(0), open: 0, mtls: false }; m.set(k, e); }
    return e;
  };
  for (const d of once(http)) {
    const e = get(d.c.src, d.c.dst);
    e.requests += d.requests; e.successes += d.successes; e.failures += d.failures; e.rps += d.requests / d.seconds;
    e.mtls ||= d.c.tls;
    d.counts.forEach((n, i) => { if (i < e.counts.length) e.counts[i]! += n; });
  }
  for (const d of once(tcp)) {
    if (d.opened === 0 && d.c.open === 0) continue;
    get(d.c.src, d.c.dst).open += d.c.open;
  }
  return [...m].map(([k, e]) => {
    const [src, dst] = k.split('>') as [string, string];
    const responses = e.successes + e.failures;
    return { src, dst, requests: e.requests, rps: Math.round(e.rps * 100) / 100, successRate: responses ? e.successes / responses : null, p99Ms: quantile(0.99, buckets, e.counts), tcpOpen: e.open, mtls: e.mtls };
  }).filter((e) => !e.src.startsWith('unknown/') || !e.dst.startsWith('unknown/')).sort((a, b) => (a.src + a.dst < b.src + b.dst ? -1 : 1));
}
