// The L7 benchmark's knobs: BENCH_L7_* environment variables (validated with the main bench's int
// parser), and the list of cells they produce: fortio HTTP/1.1 cells (rate × connections, max
// rate, an optional POST), one h2load HTTP/2 cell and the two connect-to-first-byte cells.

import { int } from '../env.js';

export interface L7Config {
  readonly rounds: number;
  readonly seconds: number;
  /** fixed request rates of the fortio cells (requests per second, all connections together) */
  readonly rates: readonly number[];
  /** connection counts of the fixed-rate cells */
  readonly conns: readonly number[];
  /** connections of the max-rate cell (fortio -qps 0); 0 skips it */
  readonly maxConns: number;
  /** response (and POST request) body bytes */
  readonly bodyBytes: number;
  /** rate of the POST cell with a request body of bodyBytes (4 connections); 0 skips it */
  readonly postRate: number;
  /** h2load connections and concurrent streams per connection; 0 connections skips the cell */
  readonly h2Conns: number;
  readonly h2Streams: number;
  /** connections per connect-to-first-byte cell (one after the other); 0 skips them */
  readonly ttfbCount: number;
  readonly snapshot: boolean;
  /** perf-profile the proxies during extra cross-node cells after the rounds */
  readonly profile: boolean;
  /** contenders to run (default all) */
  readonly only: readonly string[];
}

function list(env: NodeJS.ProcessEnv, name: string, dflt: readonly number[], min: number, max: number): number[] {
  const raw = env[name];
  if (raw === undefined || raw === '') return [...dflt];
  return raw.split(',').map((x, i) => int({ [`${name}[${i}]`]: x.trim() }, `${name}[${i}]`, 0, min, max));
}

export function readL7Config(env: NodeJS.ProcessEnv): L7Config {
  const snap = env.BENCH_SNAPSHOT;
  if (snap !== undefined && snap !== '' && !/^(0|1)$/.test(snap)) throw new RangeError(`BENCH_SNAPSHOT=${snap}: expected 1 or 0`);
  return {
    rounds: int(env, 'BENCH_L7_ROUNDS', 3, 1, 100),
    seconds: int(env, 'BENCH_L7_SECONDS', 5, 1, 600),
    rates: list(env, 'BENCH_L7_RATES', [1000, 10_000], 1, 1_000_000),
    conns: list(env, 'BENCH_L7_CONNS', [4, 64], 1, 4096),
    maxConns: int(env, 'BENCH_L7_MAX_CONNS', 64, 0, 4096),
    bodyBytes: int(env, 'BENCH_L7_BODY', 1024, 1, 1_000_000),
    postRate: int(env, 'BENCH_L7_POST_RATE', 1000, 0, 1_000_000),
    h2Conns: int(env, 'BENCH_L7_H2_CONNS', 4, 0, 4096),
    h2Streams: int(env, 'BENCH_L7_H2_STREAMS', 16, 1, 1000),
    ttfbCount: int(env, 'BENCH_L7_TTFB_COUNT', 40, 0, 10_000),
    snapshot: snap !== '0',
    profile: int(env, 'BENCH_L7_PROFILE', 0, 0, 1) === 1,
    only: (env.BENCH_L7_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  };
}

/** One measured workload: what the load tool does, whatever the contender. */
export type Cell =
  | { readonly id: string; readonly tool: 'fortio'; readonly qps: number; readonly conns: number; readonly post: boolean }
  | { readonly id: string; readonly tool: 'h2load'; readonly conns: number; readonly streams: number }
  | { readonly id: string; readonly tool: 'ttfb'; readonly mode: 'http' | 'banner'; readonly count: number };

const k = (n: number): string => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

/** The cells of a run in the order they are measured (pure). */
export function cellsOf(cfg: L7Config): Cell[] {
  const out: Cell[] = [];
  for (const qps of cfg.rates) for (const conns of cfg.conns) out.push({ id: `h1 ${k(qps)} rps ×${conns}`, tool: 'fortio', qps, conns, post: false });
  if (cfg.maxConns > 0) out.push({ id: `h1 max ×${cfg.maxConns}`, tool: 'fortio', qps: 0, conns: cfg.maxConns, post: false });
  if (cfg.postRate > 0) out.push({ id: `post ${k(cfg.postRate)} rps ×4`, tool: 'fortio', qps: cfg.postRate, conns: 4, post: true });
  if (cfg.h2Conns > 0) out.push({ id: `h2 max ×${cfg.h2Conns}×${cfg.h2Streams}`, tool: 'h2load', conns: cfg.h2Conns, streams: cfg.h2Streams });
  if (cfg.ttfbCount > 0) {
    out.push({ id: 'ttfb http', tool: 'ttfb', mode: 'http', count: cfg.ttfbCount });
    out.push({ id: 'ttfb banner', tool: 'ttfb', mode: 'banner', count: cfg.ttfbCount });
  }
  return out;
}
