// The L7 bench's summary (pure): per cell, path and contender the min/median/max over rounds of the
// latency percentiles, achieved rate, errors, proxy CPU per 1,000 requests and peak RSS; latency
// added over direct paired per round; ratios against nginx (and nginx-tls cross node); the aims.

import { pairedDiff, pairedRatio, spread, type Spread } from '../stats.js';
import type { L7Sample } from './cells.js';
import type { L7Contender, PathKind } from './setup.js';

export interface L7Row {
  readonly cell: string;
  readonly path: PathKind;
  readonly contender: L7Contender;
  readonly hops: number;
  readonly ok: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly p50?: Spread;
  readonly p90?: Spread;
  readonly p99?: Spread;
  readonly p999?: Spread;
  readonly rps?: Spread;
  readonly errors?: Spread;
  readonly cpuMsPer1kReq?: Spread;
  readonly peakRssMiB?: Spread;
  /** paired per round against direct on the same cell and path, ms */
  readonly addedP50?: Spread;
  readonly addedP99?: Spread;
  /** paired per round: this / nginx (cross node nodemesh also against nginx-tls) */
  readonly cpuVsNginx?: Spread;
  readonly rpsVsNginx?: Spread;
  readonly cpuVsNginxTls?: Spread;
  readonly rpsVsNginxTls?: Spread;
}

export interface Aim {
  readonly name: string;
  readonly cell: string;
  readonly path: PathKind;
  /** median over rounds of the compared value, and the bound it must meet */
  readonly value?: number;
  readonly bound: string;
  readonly met?: boolean;
}

export interface L7Summary { readonly rows: readonly L7Row[]; readonly aims: readonly Aim[] }

/** Per-round values of one field for a (cell, path, contender); undefined where the round failed. */
function perRound(samples: readonly L7Sample[], rounds: number, cell: string, p: PathKind, c: L7Contender, f: (s: L7Sample) => number | undefined): (number | undefined)[] {
  const out: (number | undefined)[] = Array.from({ length: rounds }, () => undefined);
  for (const s of samples) if (s.cell === cell && s.path === p && s.contender === c && !s.error && s.round >= 0 && s.round < rounds) out[s.round] = f(s);
  return out;
}

export function summarizeL7(samples: readonly L7Sample[], rounds: number, detectTimeoutMs: number): L7Summary {
  const keys: { cell: string; path: PathKind; contender: L7Contender; hops: number }[] = [];
  for (const s of samples) if (!keys.some((k) => k.cell === s.cell && k.path === s.path && k.contender === s.contender)) keys.push({ cell: s.cell, path: s.path, contender: s.contender, hops: s.hops });
  const rows: L7Row[] = keys.map((k) => {
    const mine = samples.filter((s) => s.cell === k.cell && s.path === k.path && s.contender === k.contender);
    const r = (f: (s: L7Sample) => number | undefined): (number | undefined)[] => perRound(samples, rounds, k.cell, k.path, k.contender, f);
    const other = (c: L7Contender, f: (s: L7Sample) => number | undefined): (number | undefined)[] => perRound(samples, rounds, k.cell, k.path, c, f);
    const opt = (name: string, v: Spread | undefined): Record<string, Spread> => (v ? { [name]: v } : {});
    const firstError = mine.find((s) => s.error)?.error;
    const proxied = k.contender !== 'direct';
    return {
      ...k, ok: mine.filter((s) => !s.error).length, failed: mine.filter((s) => s.error).length,
      ...(firstError ? { firstError } : {}),
      ...opt('p50', spread(r((s) => s.p50))), ...opt('p90', spread(r((s) => s.p90))),
      ...opt('p99', spread(r((s) => s.p99))), ...opt('p999', spread(r((s) => s.p999))),
      ...opt('rps', spread(r((s) => s.rps))), ...opt('errors', spread(r((s) => s.errors))),
      ...opt('cpuMsPer1kReq', spread(r((s) => s.cpuMsPer1kReq))), ...opt('peakRssMiB', spread(r((s) => s.proxyPeakRssMiB))),
      ...(proxied ? {
        ...opt('addedP50', spread(pairedDiff(r((s) => s.p50), other('direct', (s) => s.p50)))),
        ...opt('addedP99', spread(pairedDiff(r((s) => s.p99), other('direct', (s) => s.p99)))),
      } : {}),
      ...(k.contender.startsWith('nodemesh') ? {
        ...opt('cpuVsNginx', spread(pairedRatio(r((s) => s.cpuMsPer1kReq), other('nginx', (s) => s.cpuMsPer1kReq)))),
        ...opt('rpsVsNginx', spread(pairedRatio(r((s) => s.rps), other('nginx', (s) => s.rps)))),
        ...opt('cpuVsNginxTls', spread(pairedRatio(r((s) => s.cpuMsPer1kReq), other('nginx-tls', (s) => s.cpuMsPer1kReq)))),
        ...opt('rpsVsNginxTls', spread(pairedRatio(r((s) => s.rps), other('nginx-tls', (s) => s.rps)))),
      } : {}),
    };
  });
  return { rows, aims: aimsOf(rows, detectTimeoutMs) };
}

const FIXED_RATE = /^(h1|post) \d/;

/** The aims, checked on the nodemesh L7 rows (pure); detectTimeoutMs bounds the server-first stall. */
export function aimsOf(rows: readonly L7Row[], detectTimeoutMs: number): Aim[] {
  const aims: Aim[] = [];
  const l7 = rows.filter((r) => r.contender === 'nodemesh-l7');
  const check = (name: string, r: L7Row, value: number | undefined, bound: string, ok: (v: number) => boolean): void => {
    aims.push({ name, cell: r.cell, path: r.path, ...(value !== undefined ? { value, met: ok(value) } : {}), bound });
  };
  for (const r of l7) {
    if (r.path === 'cross' && /^h1 1k rps/.test(r.cell)) check('added p99, two hops with mTLS, 1,000 RPS', r, r.addedP99?.median, '≤ 0.30 ms', (v) => v <= 0.3);
    if (r.path === 'cross' && r.cell.startsWith('ttfb http')) check('detection adds no stall to a client-first protocol (added connect → first byte p50)', r, r.addedP50?.median, '≤ 1 ms', (v) => v <= 1);
    if (r.path === 'cross' && r.cell.startsWith('ttfb banner')) {
      check(`a server-first protocol waits at most the detection bound (added p99, bound ${detectTimeoutMs} ms + 20 ms)`, r, r.addedP99?.median, `≤ ${detectTimeoutMs + 20} ms`, (v) => v <= detectTimeoutMs + 20);
    }
    if (FIXED_RATE.test(r.cell) || / max /.test(r.cell)) {
      check('CPU per 1,000 requests vs nginx', r, r.cpuVsNginx?.median, '≤ 1.00×', (v) => v <= 1);
    }
    if (/ max /.test(r.cell)) check('max RPS vs nginx', r, r.rpsVsNginx?.median, '≥ 1.00×', (v) => v >= 1);
  }
  return aims;
}
