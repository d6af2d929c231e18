// From per-round samples to the benchmark's verdict: per cell, path and contender the spread of each
// metric over rounds, the added latency and ratios against direct, HAProxy and HAProxy-TLS (paired
// per round), the proxies' cost and TLS handshakes, the targets (added µs per hop, stream share of
// direct, ahead of HAProxy) and the mTLS targets (against HAProxy with TLS between its instances).

import { CELL_KINDS, CONTENDERS, PROXIED, type CellKind, type Contender, type PathKind, type Proxied, type Sample } from './cells.js';
import { costPer, median, pairedDiff, pairedRatio, scale, spread, type Spread } from './stats.js';

export type Metric = 'p50' | 'p99' | 'p999' | 'rate' | 'gbps';
export const METRICS_OF: Readonly<Record<CellKind, readonly Metric[]>> = {
  latency: ['p50', 'p99', 'p999'],
  'latency-hi': ['p50', 'p99', 'p999'],
  pingpong: ['rate', 'p50', 'p99'],
  stream: ['gbps'],
  // rate = connections per second, p50/p99 = connection time
  connrate: ['rate', 'p50', 'p99'],
};
const LATENCY: ReadonlySet<Metric> = new Set(['p50', 'p99', 'p999']);

export interface MetricSummary {
  readonly value?: Spread;
  /** contender − direct, paired per round (latency metrics only) */
  readonly added?: Spread;
  /** added ÷ hops */
  readonly addedPerHop?: Spread;
  readonly ratioToDirect?: Spread;
  /** nodemesh only: nodemesh ÷ HAProxy */
  readonly ratioToHaproxy?: Spread;
  /** nodemesh only: nodemesh ÷ HAProxy-TLS (cross node) */
  readonly ratioToHaproxyTls?: Spread;
}

export interface Cost {
  readonly cpuMsPer1kRt?: Spread;
  readonly cpuSecPerGB?: Spread;
  /** the same, less the proxies' background CPU (their rate in the direct cells × the cell's wall time) */
  readonly cpuMsPer1kRtNet?: Spread;
  readonly cpuSecPerGBNet?: Spread;
  readonly peakRssMiB?: Spread;
  readonly retransmits?: Spread;
  /** connrate: failed connection attempts per round */
  readonly connErrors?: Spread;
  /** connrate: TLS handshakes per round, as client (node-a) and server (node-b), and resumed ones */
  readonly handshakesClient?: Spread;
  readonly handshakesServer?: Spread;
  readonly resumedClient?: Spread;
  readonly resumedServer?: Spread;
}

export interface ContenderSummary {
  readonly contender: Contender;
  readonly hops: number;
  /** rounds that produced a result */
  readonly ok: number;
  readonly errors: readonly string[];
  readonly metrics: Partial<Record<Metric, MetricSummary>>;
  readonly cost: Cost;
  /** nodemesh: connections the agents opened per round (0 would mean the traffic was not captured) */
  readonly meshOpened?: readonly (number | undefined)[];
}

export interface CellSummary {
  readonly kind: CellKind;
  readonly path: PathKind;
  readonly contenders: readonly ContenderSummary[];
}

export interface TargetCheck {
  readonly name: string;
  readonly path: PathKind;
  /** human text of the goal, e.g. "≤ 30 µs" */
  readonly goal: string;
  /** median over rounds, undefined when not measured */
  readonly measured: number | undefined;
  readonly unit: string;
  readonly met: boolean | undefined;
  /** how far from the goal, in the goal's unit (positive = missed by) */
  readonly missBy: number | undefined;
  /** the cell it was judged on, when that is not obvious from the name */
  readonly cell?: CellKind;
}

export interface Summary {
  readonly rounds: number;
  readonly cells: readonly CellSummary[];
  readonly targets: readonly TargetCheck[];
  /** nodemesh cross node (HBONE) against HAProxy-TLS, when that contender ran */
  readonly mtlsTargets: readonly TargetCheck[];
  /** each contender's proxies' CPU while they relay nothing (direct cells), ms per second of wall time */
  readonly backgroundCpuMsPerSec: Partial<Record<Proxied, Spread>>;
}

/** ms of CPU per second of wall time that `who`'s proxies used in the direct cells. */
export function background(samples: readonly Sample[], who: Proxied): number[] {
  return samples.filter((s) => s.contender === 'direct' && s.error === undefined && s.wallSeconds > 0 && s.cpuByProxy?.[who] !== undefined)
    .map((s) => (s.cpuByProxy![who]! * 1000) / s.wallSeconds);
}

/** A sample's proxy CPU less `bgMsPerSec` × its wall time (not below zero), per 1k round trips or per GB. */
export function netCost(s: Sample, bgMsPerSec: number | undefined): { cpuMsPer1kRtNet?: number; cpuSecPerGBNet?: number } {
  if (s.proxyCpuSeconds === undefined || bgMsPerSec === undefined) return {};
  const net = Math.max(0, s.proxyCpuSeconds - (bgMsPerSec / 1000) * s.wallSeconds);
  const rt = costPer(net * 1000, s.roundTrips, 1000);
  const gb = costPer(net, s.bytes, 1e9);
  return { ...(rt !== undefined ? { cpuMsPer1kRtNet: rt } : {}), ...(gb !== undefined ? { cpuSecPerGBNet: gb } : {}) };
}

/** Per-round series of one field for (kind, path, contender); index = round. */
type Field = keyof Sample | 'cpuMsPer1kRtNet' | 'cpuSecPerGBNet' | 'hsClient' | 'hsServer' | 'hsClientResumed' | 'hsServerResumed';

function fieldOf(s: Sample, field: Field): unknown {
  switch (field) {
    case 'hsClient': return s.handshakes?.client;
    case 'hsServer': return s.handshakes?.server;
    case 'hsClientResumed': return s.handshakes?.clientResumed;
    case 'hsServerResumed': return s.handshakes?.serverResumed;
    default: return (s as Partial<Record<Field, unknown>>)[field];
  }
}

export function series(samples: readonly Sample[], rounds: number, kind: CellKind, path: PathKind, contender: Contender, field: Field): (number | undefined)[] {
  const out: (number | undefined)[] = Array.from({ length: rounds }, () => undefined);
  for (const s of samples) {
    if (s.kind !== kind || s.path !== path || s.contender !== contender || s.error !== undefined) continue;
    const v = fieldOf(s, field);
    if (typeof v === 'number' && s.round >= 0 && s.round < rounds) out[s.round] = v;
  }
  return out;
}

function withSpread<K extends string>(key: K, s: Spread | undefined): Partial<Record<K, Spread>> {
  return s ? ({ [key]: s } as Partial<Record<K, Spread>>) : {};
}

function summarizeContender(samples: readonly Sample[], rounds: number, kind: CellKind, path: PathKind, c: Contender): ContenderSummary {
  const mine = samples.filter((s) => s.kind === kind && s.path === path && s.contender === c);
  const hops = mine[0]?.hops ?? (c === 'direct' ? 0 : path === 'same' ? 1 : 2);
  const metrics: Partial<Record<Metric, MetricSummary>> = {};
  for (const m of METRICS_OF[kind]) {
    const v = series(samples, rounds, kind, path, c, m);
    const d = series(samples, rounds, kind, path, 'direct', m);
    const h = series(samples, rounds, kind, path, 'haproxy', m);
    const ht = series(samples, rounds, kind, path, 'haproxy-tls', m);
    const added = c !== 'direct' && LATENCY.has(m) ? pairedDiff(v, d) : undefined;
    metrics[m] = {
      ...withSpread('value', spread(v)),
      ...(added ? withSpread('added', spread(added)) : {}),
      ...(added && hops > 0 ? withSpread('addedPerHop', spread(scale(added, 1 / hops))) : {}),
      ...(c !== 'direct' ? withSpread('ratioToDirect', spread(pairedRatio(v, d))) : {}),
      ...(c === 'nodemesh' ? withSpread('ratioToHaproxy', spread(pairedRatio(v, h))) : {}),
      ...(c === 'nodemesh' ? withSpread('ratioToHaproxyTls', spread(pairedRatio(v, ht))) : {}),
    };
  }
  const cost: Cost = {
    ...withSpread('cpuMsPer1kRt', spread(series(samples, rounds, kind, path, c, 'cpuMsPer1kRt'))),
    ...withSpread('cpuSecPerGB', spread(series(samples, rounds, kind, path, c, 'cpuSecPerGB'))),
    ...withSpread('cpuMsPer1kRtNet', spread(series(samples, rounds, kind, path, c, 'cpuMsPer1kRtNet'))),
    ...withSpread('cpuSecPerGBNet', spread(series(samples, rounds, kind, path, c, 'cpuSecPerGBNet'))),
    ...withSpread('peakRssMiB', spread(series(samples, rounds, kind, path, c, 'proxyPeakRssMiB'))),
    ...withSpread('retransmits', spread(series(samples, rounds, kind, path, c, 'retransmits'))),
    ...withSpread('connErrors', spread(series(samples, rounds, kind, path, c, 'connErrors'))),
    ...withSpread('handshakesClient', spread(series(samples, rounds, kind, path, c, 'hsClient'))),
    ...withSpread('handshakesServer', spread(series(samples, rounds, kind, path, c, 'hsServer'))),
    ...withSpread('resumedClient', spread(series(samples, rounds, kind, path, c, 'hsClientResumed'))),
    ...withSpread('resumedServer', spread(series(samples, rounds, kind, path, c, 'hsServerResumed'))),
  };
  const opened = c === 'nodemesh' ? series(samples, rounds, kind, path, c, 'meshOpened') : undefined;
  return {
    contender: c, hops, ok: mine.filter((s) => s.error === undefined).length,
    errors: [...new Set(mine.flatMap((s) => (s.error ? [s.error] : [])))],
    metrics, cost, ...(opened ? { meshOpened: opened } : {}),
  };
}

function check(name: string, path: PathKind, goal: string, unit: string, measured: number | undefined, ok: (v: number) => boolean, miss: (v: number) => number, cell?: CellKind): TargetCheck {
  const at = cell ? { cell } : {};
  if (measured === undefined) return { name, path, goal, unit, measured, met: undefined, missBy: undefined, ...at };
  const met = ok(measured);
  return { name, path, goal, unit, measured, met, missBy: met ? undefined : miss(measured), ...at };
}

export interface Goals {
  readonly addedP50PerHopUs: number;
  readonly addedP99PerHopUs: number;
  readonly streamShareOfDirect: number;
  /** mTLS (issue 12): one stream ≥ k × HAProxy-TLS's, added p50 per hop, new connections ≥ k × HAProxy-TLS's */
  readonly mtlsStreamVsHaproxyTls: number;
  readonly mtlsAddedP50PerHopUs: number;
  readonly mtlsConnRateVsHaproxyTls: number;
}

export const DEFAULT_GOALS: Goals = {
  addedP50PerHopUs: 30, addedP99PerHopUs: 100, streamShareOfDirect: 0.6,
  mtlsStreamVsHaproxyTls: 1.3, mtlsAddedP50PerHopUs: 40, mtlsConnRateVsHaproxyTls: 1,
};

function meshOf(cells: readonly CellSummary[], kind: CellKind, path: PathKind): ContenderSummary | undefined {
  return cells.find((c) => c.kind === kind && c.path === path)?.contenders.find((x) => x.contender === 'nodemesh');
}

/**
 * The mTLS targets, cross node (nodemesh's HBONE hop against HAProxy-TLS), on medians of paired
 * per-round values; added p50 per hop comes from the high-rate open-loop cell when it ran. Empty
 * when HAProxy-TLS did not run.
 */
export function mtlsTargets(cells: readonly CellSummary[], goals: Goals = DEFAULT_GOALS): TargetCheck[] {
  const ran = cells.some((c) => c.path === 'cross' && c.contenders.some((x) => x.contender === 'haproxy-tls'));
  if (!ran) return [];
  const hi = meshOf(cells, 'latency-hi', 'cross');
  const latKind: CellKind = hi ? 'latency-hi' : 'latency';
  const p50 = (hi ?? meshOf(cells, 'latency', 'cross'))?.metrics.p50?.addedPerHop?.median;
  const st = meshOf(cells, 'stream', 'cross')?.metrics.gbps?.ratioToHaproxyTls?.median;
  const cr = meshOf(cells, 'connrate', 'cross')?.metrics.rate?.ratioToHaproxyTls?.median;
  const g = goals;
  return [
    check('mTLS one stream ÷ HAProxy-TLS', 'cross', `≥ ${g.mtlsStreamVsHaproxyTls}`, '×', st, (v) => v >= g.mtlsStreamVsHaproxyTls, (v) => g.mtlsStreamVsHaproxyTls - v, 'stream'),
    check('mTLS added p50 per hop', 'cross', `≤ ${g.mtlsAddedP50PerHopUs} µs`, 'µs', p50, (v) => v <= g.mtlsAddedP50PerHopUs, (v) => v - g.mtlsAddedP50PerHopUs, latKind),
    check('mTLS new connections/s ÷ HAProxy-TLS', 'cross', `≥ ${g.mtlsConnRateVsHaproxyTls}`, '×', cr, (v) => v >= g.mtlsConnRateVsHaproxyTls, (v) => g.mtlsConnRateVsHaproxyTls - v, 'connrate'),
  ];
}

/** The targets, judged on the medians over rounds of the paired per-round values. */
export function targets(cells: readonly CellSummary[], goals: Goals = DEFAULT_GOALS): TargetCheck[] {
  const out: TargetCheck[] = [];
  const mesh = (kind: CellKind, path: PathKind): ContenderSummary | undefined => meshOf(cells, kind, path);
  for (const path of ['same', 'cross'] as const) {
    const lat = mesh('latency', path);
    const st = mesh('stream', path);
    const p50 = lat?.metrics.p50?.addedPerHop?.median;
    const p99 = lat?.metrics.p99?.addedPerHop?.median;
    out.push(check('added p50 per hop', path, `≤ ${goals.addedP50PerHopUs} µs`, 'µs', p50, (v) => v <= goals.addedP50PerHopUs, (v) => v - goals.addedP50PerHopUs));
    out.push(check('added p99 per hop', path, `≤ ${goals.addedP99PerHopUs} µs`, 'µs', p99, (v) => v <= goals.addedP99PerHopUs, (v) => v - goals.addedP99PerHopUs));
    const share = st?.metrics.gbps?.ratioToDirect?.median;
    out.push(check('one stream ÷ direct', path, `≥ ${goals.streamShareOfDirect}`, '×', share, (v) => v >= goals.streamShareOfDirect, (v) => goals.streamShareOfDirect - v));
    const hp50 = lat?.metrics.p50?.ratioToHaproxy?.median;
    const hp99 = lat?.metrics.p99?.ratioToHaproxy?.median;
    out.push(check('p50 ÷ HAProxy p50', path, '< 1', '×', hp50, (v) => v < 1, (v) => v - 1));
    out.push(check('p99 ÷ HAProxy p99', path, '< 1', '×', hp99, (v) => v < 1, (v) => v - 1));
    const hst = st?.metrics.gbps?.ratioToHaproxy?.median;
    out.push(check('one stream ÷ HAProxy', path, '> 1', '×', hst, (v) => v > 1, (v) => 1 - v));
  }
  return out;
}

export function summarize(raw: readonly Sample[], rounds: number, goals: Goals = DEFAULT_GOALS): Summary {
  const bg: Partial<Record<Proxied, number>> = {};
  const backgroundCpuMsPerSec: Partial<Record<Proxied, Spread>> = {};
  for (const who of PROXIED) {
    const v = background(raw, who);
    if (v.length) { bg[who] = median(v); backgroundCpuMsPerSec[who] = spread(v)!; }
  }
  const samples = raw.map((s) => (s.contender === 'direct' ? s : { ...s, ...netCost(s, bg[s.contender]) }));
  const cells: CellSummary[] = [];
  for (const kind of CELL_KINDS) {
    for (const path of ['same', 'cross'] as const) {
      if (!samples.some((s) => s.kind === kind && s.path === path)) continue;
      const contenders = CONTENDERS
        .filter((c) => samples.some((s) => s.kind === kind && s.path === path && s.contender === c))
        .map((c) => summarizeContender(samples, rounds, kind, path, c));
      cells.push({ kind, path, contenders });
    }
  }
  return { rounds, cells, targets: targets(cells, goals), mtlsTargets: mtlsTargets(cells, goals), backgroundCpuMsPerSec };
}
