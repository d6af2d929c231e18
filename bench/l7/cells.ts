// One L7 bench cell = one load tool run from a client pod against one contender's target, with the
// proxies' CPU and RSS measured around it (bench/procstat.ts) and, for nodemesh, proof of the path
// taken: the agents' outbound request_total must grow by the requests for the L7 contender and
// not at all for the L4 one, and tcp_open_total must grow (captured). Never throws.

import path from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { measure } from '../procstat.js';
import { costPer } from '../stats.js';
import type { Cell } from './config.js';
import { h2loadResult, parseFortio, parseH2load, parseH2loadLog, parseTtfb, percentile, type LoadResult } from './parse.js';
import { proxiedOf, type L7Contender, type L7Proxied, type L7Target, type PathKind } from './setup.js';

export interface ExecOut { readonly code: number; readonly stdout: string; readonly stderr: string }

export interface MeshCounters {
  readonly requests: number;
  readonly opens: number;
  /** whether the agents export request_total at all (a build without golden metrics cannot prove L7) */
  readonly golden: boolean;
}

export interface L7CellContext {
  readonly seconds: number;
  readonly bodyBytes: number;
  readonly fortio: string;
  /** node binary and the compiled ttfb.js, run inside the client pod */
  readonly ttfbArgv: readonly string[];
  /** a directory both this process and the pods see (h2load's log file) */
  readonly tmp: string;
  exec(pod: string, argv: readonly string[], timeoutMs: number): Promise<ExecOut>;
  readonly proxies: Readonly<Record<L7Proxied, readonly number[]>>;
  /** outbound request_total and tcp_open_total over both agents (undefined: unreadable) */
  meshCounters(): Promise<MeshCounters | undefined>;
}

export interface L7Sample {
  readonly round: number;
  readonly cell: string;
  readonly tool: Cell['tool'];
  readonly path: PathKind;
  readonly contender: L7Contender;
  readonly hops: number;
  readonly error?: string;
  /** ms (ttfb: connect → first byte) */
  readonly p50?: number;
  readonly p90?: number;
  readonly p99?: number;
  readonly p999?: number;
  readonly max?: number;
  readonly requests?: number;
  readonly errors?: number;
  readonly rps?: number;
  /** ttfb: the TCP handshake's median, ms */
  readonly connectP50?: number;
  readonly wallSeconds: number;
  readonly proxyCpuSeconds?: number;
  readonly proxyPeakRssMiB?: number;
  /** proxy CPU ms per 1,000 requests */
  readonly cpuMsPer1kReq?: number;
  /** nodemesh: outbound requests the agents counted, connections they opened */
  readonly meshRequests?: number;
  readonly meshOpened?: number;
}

/** The load tool's command line for a cell against a target (pure). */
export function cellArgv(cell: Cell, t: L7Target, ctx: Pick<L7CellContext, 'seconds' | 'bodyBytes' | 'fortio' | 'ttfbArgv'>, logFile: string): string[] {
  if (cell.tool === 'fortio') {
    return [ctx.fortio, 'load', '-qps', String(cell.qps), '-c', String(cell.conns), '-t', `${ctx.seconds}s`, '-json', '-', '-p', '50,90,99,99.9',
      '-r', '0.00001', '-quiet', ...(cell.post ? ['-payload-size', String(ctx.bodyBytes)] : []), `http://${t.ip}:${t.h1Port}/`];
  }
  if (cell.tool === 'h2load') {
    return ['h2load', '-D', String(ctx.seconds), '--warm-up-time', '1', '-c', String(cell.conns), '-m', String(cell.streams), '-t', '1',
      `--log-file=${logFile}`, `http://${t.ip}:${t.h2Port}/`];
  }
  const port = cell.mode === 'http' ? t.h1Port : t.bannerPort;
  if (port === undefined) throw new RangeError(`${t.contender} has no banner port`);
  return [...ctx.ttfbArgv, t.ip, String(port), cell.mode, String(cell.count)];
}

/** Whether a cell runs for a target: ttfb only where the banner is reachable (direct, nodemesh). */
export function applies(cell: Cell, t: L7Target): boolean {
  return cell.tool !== 'ttfb' || t.bannerPort !== undefined;
}

/** What the agents' counters say about the path a nodemesh cell took; an error message or undefined (pure). */
export function pathCheck(contender: L7Contender, cell: Cell, requests: number, meshRequests: number | undefined, meshOpened: number | undefined): string | undefined {
  if (!contender.startsWith('nodemesh')) return undefined;
  if (meshRequests === undefined || meshOpened === undefined) return 'the agents\' /metrics were unreadable: cannot tell which path the traffic took';
  // requests counted by the proxy prove capture too (its connection events can lag behind them)
  if (meshOpened <= 0 && meshRequests <= 0) return 'the agents opened no connection: the traffic was NOT captured';
  const http = cell.tool !== 'ttfb' || cell.mode === 'http';
  if (contender === 'nodemesh-l7' && http && meshRequests < 0.95 * requests) {
    return `NOT proxied at L7: the agents counted ${meshRequests} outbound requests for ${requests} sent (detection fell through to TCP?)`;
  }
  if ((contender === 'nodemesh-l4' || !http) && meshRequests > 0) return `${meshRequests} requests were parsed as HTTP on a path that must stay L4`;
  return undefined;
}

function tail(s: string, n = 4): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}

/** Runs one cell and measures it. */
export async function runCell(ctx: L7CellContext, cell: Cell, t: L7Target, round: number): Promise<L7Sample> {
  const base = { round, cell: cell.id, tool: cell.tool, path: t.path, contender: t.contender, hops: t.hops };
  const logFile = path.join(ctx.tmp, `h2load-${process.hrtime.bigint()}.log`);
  const argv = cellArgv(cell, t, ctx, logFile);
  const who = proxiedOf(t.contender);
  const mesh0 = who === 'nodemesh' ? await ctx.meshCounters() : undefined;
  const stop = measure(who ? ctx.proxies[who] : [], 100);
  let out: ExecOut;
  try {
    const budget = cell.tool === 'ttfb' ? cell.count * 11 : ctx.seconds + 3;
    out = await ctx.exec(t.client, argv, (budget + 30) * 1000);
  } catch (e) {
    out = { code: -1, stdout: '', stderr: (e as Error).message };
  }
  const used = stop();
  const mesh1 = mesh0 !== undefined ? await ctx.meshCounters() : undefined;
  const usage = {
    wallSeconds: used.wallSeconds,
    ...(used.cpuSeconds !== undefined ? { proxyCpuSeconds: used.cpuSeconds } : {}),
    ...(used.peakRssKiB !== undefined ? { proxyPeakRssMiB: used.peakRssKiB / 1024 } : {}),
    ...(mesh0 && mesh1 ? { meshRequests: mesh1.requests - mesh0.requests, meshOpened: mesh1.opens - mesh0.opens } : {}),
  };
  // says why an L7 proof failed when the build has no golden metrics to prove it with
  const why = (bad: string | undefined): string | undefined => (bad && mesh1 && !mesh1.golden && bad.startsWith('NOT proxied')
    ? `${bad}; the agents export no request_total at all (golden metrics not registered in this build)` : bad);
  const tool = path.basename(argv[0]!);
  if (out.code !== 0 && !(cell.tool === 'fortio' && out.stdout.trim().startsWith('{'))) {
    rmSync(logFile, { force: true });
    return { ...base, ...usage, error: `${tool} exited ${out.code}: ${tail(out.stderr || out.stdout)}` };
  }
  try {
    if (cell.tool === 'ttfb') {
      const r = parseTtfb(out.stdout);
      if (r.firstByteMs.length === 0) return { ...base, ...usage, errors: r.errors, error: `every connection failed: ${r.firstError ?? '?'}` };
      const n = r.firstByteMs.length;
      const bad = why(pathCheck(t.contender, cell, n, usage.meshRequests, usage.meshOpened));
      return {
        ...base, ...usage, requests: n + r.errors, errors: r.errors,
        p50: percentile(r.firstByteMs, 50), p90: percentile(r.firstByteMs, 90), p99: percentile(r.firstByteMs, 99), p999: percentile(r.firstByteMs, 99.9),
        max: r.firstByteMs[n - 1]!, connectP50: percentile(r.connectMs, 50),
        ...(bad ? { error: bad } : {}),
      };
    }
    let r: LoadResult;
    if (cell.tool === 'fortio') {
      r = parseFortio(out.stdout);
    } else {
      r = h2loadResult(parseH2load(out.stdout), parseH2loadLog(readFileSync(logFile, 'utf8')));
    }
    const cpu = costPer(used.cpuSeconds === undefined ? undefined : used.cpuSeconds * 1000, r.requests, 1000);
    // fortio's warm-up and h2load's warm-up second send requests the tools do not report: allow them
    const bad = why(pathCheck(t.contender, cell, r.requests, usage.meshRequests, usage.meshOpened));
    return {
      ...base, ...usage, p50: r.p50, p90: r.p90, p99: r.p99, p999: r.p999, max: r.max,
      requests: r.requests, errors: r.errors, rps: r.rps,
      ...(cpu !== undefined ? { cpuMsPer1kReq: cpu } : {}),
      ...(bad ? { error: bad } : r.ok === 0 ? { error: `no request succeeded (${r.errors} errors)` } : {}),
    };
  } catch (e) {
    return { ...base, ...usage, error: (e as Error).message };
  } finally {
    rmSync(logFile, { force: true });
  }
}
