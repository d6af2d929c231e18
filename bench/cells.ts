// One benchmark cell = one load tool run from a client pod against one contender's path, with the
// proxies' CPU and RSS measured around it: open-loop latency (sockperf under-load, at the base and
// the high rate), closed-loop ping-pong (sockperf ping-pong, max rate), one stream (iperf3) and new
// connections per second (bench/tools/connrate.c, with TLS handshake counts). Never throws.

import path from 'node:path';
import { parseConnrate } from './parse-conn.js';
import { parseIperf3, parseSockperf } from './parse.js';
import { measure } from './procstat.js';
import { costPer } from './stats.js';

/** haproxy-tls: the cross-node HAProxy pair with mutual TLS 1.3 between the two instances */
export type Contender = 'direct' | 'nodemesh' | 'haproxy' | 'haproxy-tls';
export type PathKind = 'same' | 'cross';
/** latency-hi: the open-loop cell at the high rate (BENCH_HIGH_RATE, the mTLS comparison's) */
export type CellKind = 'latency' | 'latency-hi' | 'pingpong' | 'stream' | 'connrate';
export type Proxied = Exclude<Contender, 'direct'>;

export const CONTENDERS: readonly Contender[] = ['direct', 'nodemesh', 'haproxy', 'haproxy-tls'];
export const PROXIED: readonly Proxied[] = ['nodemesh', 'haproxy', 'haproxy-tls'];
export const PATHS: readonly PathKind[] = ['same', 'cross'];
export const CELL_KINDS: readonly CellKind[] = ['latency', 'latency-hi', 'pingpong', 'stream', 'connrate'];

/** TLS handshakes done by the proxies (cumulative counts, or their change over one cell). */
export interface Handshakes {
  /** as the client of the TLS hop (node-a): dials of the HBONE pool, HAProxy's backend handshakes */
  readonly client: number;
  /** as the server of the TLS hop (node-b) */
  readonly server: number;
  /** of those, resumed sessions (no certificates exchanged); nodemesh never resumes */
  readonly clientResumed?: number;
  readonly serverResumed?: number;
}

/** after − before, field by field (a field missing on either side is dropped). */
export function handshakeDelta(before: Handshakes, after: Handshakes): Handshakes {
  const d = (k: 'clientResumed' | 'serverResumed'): Partial<Handshakes> => {
    const a = before[k];
    const b = after[k];
    return a !== undefined && b !== undefined ? { [k]: b - a } : {};
  };
  return { client: after.client - before.client, server: after.server - before.server, ...d('clientResumed'), ...d('serverResumed') };
}

export interface ExecOut { readonly code: number; readonly stdout: string; readonly stderr: string }

/** Where one contender's traffic goes for one path. */
export interface Target {
  readonly contender: Contender;
  readonly path: PathKind;
  /** proxy hops between client and server (0 direct, 1 same node, 2 cross node) */
  readonly hops: number;
  /** namespace/name of the client pod */
  readonly client: string;
  /** address the client connects to (the server pod, or HAProxy's listener on node-a) */
  readonly ip: string;
  readonly sockperfPort: number;
  readonly iperfPort: number;
  readonly echoPort: number;
}

export interface CellConfig {
  readonly seconds: number;
  readonly pingpongSeconds: number;
  readonly rate: number;
  readonly highRate: number;
  readonly msgSize: number;
  readonly connParallel: number;
}

export interface CellContext {
  readonly cfg: CellConfig;
  exec(pod: string, argv: readonly string[], timeoutMs: number): Promise<ExecOut>;
  /**
   * Every contender's proxy pids, measured in every cell: what a contender's proxies use while the
   * traffic goes elsewhere (in the direct cells) is their background cost.
   */
  readonly proxies: Readonly<Record<Proxied, readonly number[]>>;
  /** connections the agents have opened so far (tcp_open_total over both nodes) */
  meshOpens(): Promise<number | undefined>;
  /** the connrate binary (built per run); without it the connrate cell fails */
  readonly connrate?: string;
  /** TLS handshakes the target's proxies did so far (undefined: none to count, or unreadable) */
  handshakes?(t: Target): Promise<Handshakes | undefined>;
}

export interface Sample {
  readonly round: number;
  readonly kind: CellKind;
  readonly path: PathKind;
  readonly contender: Contender;
  readonly hops: number;
  readonly error?: string;
  /** µs */
  readonly p50?: number;
  readonly p90?: number;
  readonly p99?: number;
  readonly p999?: number;
  readonly max?: number;
  readonly roundTrips?: number;
  /** round trips per second in the measured window */
  readonly rate?: number;
  readonly dropped?: number;
  readonly gbps?: number;
  readonly bytes?: number;
  readonly retransmits?: number;
  readonly wallSeconds: number;
  readonly proxyCpuSeconds?: number;
  readonly proxyPeakRssMiB?: number;
  /** CPU seconds of each contender's proxies during this cell (their own and the others') */
  readonly cpuByProxy?: Partial<Record<Proxied, number>>;
  /** proxy CPU milliseconds per 1,000 round trips (latency, ping-pong) */
  readonly cpuMsPer1kRt?: number;
  /** proxy CPU seconds per GB (10⁹ bytes) relayed (stream) */
  readonly cpuSecPerGB?: number;
  /** connections the agents opened during the cell (nodemesh: proves the traffic was captured) */
  readonly meshOpened?: number;
  /** connrate: failed connection attempts (the cell still counts the ones that worked) */
  readonly connErrors?: number;
  /** TLS handshakes of the proxies during the cell */
  readonly handshakes?: Handshakes;
}

function sockperfArgv(kind: 'latency' | 'latency-hi' | 'pingpong', t: Target, cfg: CellConfig): string[] {
  const common = ['--tcp', '-i', t.ip, '-p', String(t.sockperfPort), '-m', String(cfg.msgSize), '--full-rtt'];
  if (kind !== 'pingpong') {
    // open loop: sends at a fixed rate whatever the replies do; every message is answered
    return ['sockperf', 'under-load', ...common, `--mps=${kind === 'latency' ? cfg.rate : cfg.highRate}`, '--reply-every=1', '-t', String(cfg.seconds)];
  }
  return ['sockperf', 'ping-pong', ...common, '--mps=max', '-t', String(cfg.pingpongSeconds)];
}

function tail(s: string, n = 6): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}

/** Runs one cell and measures it. */
/** The command line of one cell. */
export function cellArgv(kind: CellKind, t: Target, cfg: CellConfig, connrate = 'connrate'): string[] {
  if (kind === 'stream') return ['iperf3', '-c', t.ip, '-p', String(t.iperfPort), '-t', String(cfg.seconds), '-J'];
  if (kind === 'connrate') {
    return [connrate, '-c', t.ip, '-p', String(t.echoPort), '-t', String(cfg.seconds), '-P', String(cfg.connParallel), '-s', String(cfg.msgSize)];
  }
  return sockperfArgv(kind, t, cfg);
}

/** Runs one cell and measures it. */
export async function runCell(ctx: CellContext, kind: CellKind, t: Target, round: number): Promise<Sample> {
  const base = { round, kind, path: t.path, contender: t.contender, hops: t.hops };
  const secs = kind === 'pingpong' ? ctx.cfg.pingpongSeconds : ctx.cfg.seconds;
  if (kind === 'connrate' && !ctx.connrate) return { ...base, wallSeconds: 0, error: 'the connrate tool was not built' };
  const argv = cellArgv(kind, t, ctx.cfg, ctx.connrate);
  const hs0 = kind === 'connrate' ? await ctx.handshakes?.(t) : undefined;
  const opens0 = t.contender === 'nodemesh' ? await ctx.meshOpens() : undefined;
  const groups = Object.entries(ctx.proxies) as [Proxied, readonly number[]][];
  // the contender's own proxies are sampled often (peak RSS), the idle ones only for CPU
  const stops = groups.map(([who, pids]) => [who, measure(pids, who === t.contender ? 100 : 60_000)] as const);
  const wall = measure([]);
  let out: ExecOut;
  try {
    out = await ctx.exec(t.client, argv, (secs + 30) * 1000);
  } catch (e) {
    out = { code: -1, stdout: '', stderr: (e as Error).message };
  }
  const used = stops.map(([who, stop]) => [who, stop()] as const);
  const proxy = used.find(([who]) => who === t.contender)?.[1] ?? wall();
  const cpuByProxy: Partial<Record<Proxied, number>> = {};
  for (const [who, u] of used) if (u.cpuSeconds !== undefined) cpuByProxy[who] = u.cpuSeconds;
  const opens1 = opens0 !== undefined ? await ctx.meshOpens() : undefined;
  const hs1 = hs0 !== undefined ? await ctx.handshakes?.(t) : undefined;
  const usage = {
    ...(hs0 !== undefined && hs1 !== undefined ? { handshakes: handshakeDelta(hs0, hs1) } : {}),
    wallSeconds: proxy.wallSeconds,
    ...(proxy.cpuSeconds !== undefined ? { proxyCpuSeconds: proxy.cpuSeconds } : {}),
    ...(proxy.peakRssKiB !== undefined ? { proxyPeakRssMiB: proxy.peakRssKiB / 1024 } : {}),
    cpuByProxy,
    ...(opens0 !== undefined && opens1 !== undefined ? { meshOpened: opens1 - opens0 } : {}),
  };
  if (out.code !== 0) {
    return { ...base, ...usage, error: `${path.basename(argv[0]!)} ${argv[1]} exited ${out.code}: ${tail(out.stderr || out.stdout)}` };
  }
  try {
    if (kind === 'connrate') {
      const r = parseConnrate(out.stdout);
      const cpu = costPer(proxy.cpuSeconds === undefined ? undefined : proxy.cpuSeconds * 1000, r.connections, 1000);
      return {
        ...base, ...usage, p50: r.p50, p90: r.p90, p99: r.p99, p999: r.p999, max: r.max,
        roundTrips: r.connections, rate: r.connections / r.seconds, connErrors: r.errors,
        ...(r.errors > 0 && r.connections === 0 ? { error: `every connection failed: ${r.firstError ?? '?'}` } : {}),
        ...(cpu !== undefined ? { cpuMsPer1kRt: cpu } : {}),
      };
    }
    if (kind === 'stream') {
      const r = parseIperf3(out.stdout);
      const cpu = costPer(proxy.cpuSeconds, r.bytes, 1e9);
      return {
        ...base, ...usage, gbps: r.bitsPerSecond / 1e9, bytes: r.bytes,
        ...(r.retransmits !== undefined ? { retransmits: r.retransmits } : {}),
        ...(cpu !== undefined ? { cpuSecPerGB: cpu } : {}),
      };
    }
    const r = parseSockperf(`${out.stdout}\n${out.stderr}`); // sockperf splits its report over both
    const cpu = costPer(proxy.cpuSeconds === undefined ? undefined : proxy.cpuSeconds * 1000, r.totalReceived, 1000);
    return {
      ...base, ...usage, p50: r.p50, p99: r.p99, p999: r.p999, max: r.max,
      ...(r.p90 !== undefined ? { p90: r.p90 } : {}),
      roundTrips: r.totalReceived, rate: r.validReceived / r.validSeconds, dropped: r.dropped,
      ...(cpu !== undefined ? { cpuMsPer1kRt: cpu } : {}),
    };
  } catch (e) {
    return { ...base, ...usage, error: (e as Error).message };
  }
}
