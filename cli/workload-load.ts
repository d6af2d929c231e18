// `nodemesh workload load URL --count N`: a keep-alive HTTP/1.1 load client for tests and the demo.
// One process, C concurrent requests over pooled connections; prints one JSON line with counts by
// status, by the echo's `version` (else `pod`) field, transport errors and latency percentiles.
// Flag parsing and aggregation are pure (unit-tested); run() only does the I/O.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { intFlag, parseFlags, usageError } from './args.js';
import { usageOf } from './commands.js';

export interface LoadOptions {
  readonly url: URL;
  readonly count: number;
  readonly concurrency: number;
  readonly method: string;
  /** in the order given; names as given (node:http sends them as spelled) */
  readonly headers: readonly (readonly [string, string])[];
  readonly timeoutMs: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `workload load` argv → options; every mistake is MESH_ERR_USAGE with the usage line. */
export function parseLoadFlags(argv: readonly string[], usage: string): LoadOptions {
  const { values, positionals } = parseFlags(argv, {
    count: { type: 'string' }, concurrency: { type: 'string' }, header: { type: 'string', multiple: true },
    method: { type: 'string' }, 'timeout-ms': { type: 'string' },
  }, usage, { min: 1, max: 1 });
  let url: URL;
  try {
    url = new URL(positionals[0]!);
  } catch {
    throw usageError(`URL "${positionals[0]}" is not an absolute URL (e.g. http://10.96.20.10/)`, usage);
  }
  if (url.protocol !== 'http:') throw usageError(`URL "${url.href}" must be http:// (the load client speaks cleartext HTTP/1.1)`, usage);
  const count = intFlag(values, 'count', usage, { min: 1, max: 10_000_000 });
  if (count === undefined) throw usageError('--count is required', usage);
  const concurrency = intFlag(values, 'concurrency', usage, { min: 1, max: 1024 }) ?? 1;
  const timeoutMs = intFlag(values, 'timeout-ms', usage, { min: 1, max: 600_000 }) ?? 10_000;
  const method = typeof values.method === 'string' ? values.method : 'GET';
  if (!TOKEN.test(method)) throw usageError(`--method "${method}" is not an HTTP method token`, usage);
  const raw = (values as Record<string, unknown>).header;
  const headers = (Array.isArray(raw) ? (raw as string[]) : []).map((h): [string, string] => {
    const i = h.indexOf(':');
    const name = i < 0 ? '' : h.slice(0, i).trim();
    if (!TOKEN.test(name)) throw usageError(`--header "${h}" must be 'Name: value' with a header name made of token characters`, usage);
    return [name, h.slice(i + 1).trim()];
  });
  return { url, count, concurrency: Math.min(concurrency, count), method: method.toUpperCase(), headers, timeoutMs };
}

/** What one request ended as: a response (status, the body's backend key) or a transport error. */
export type Outcome = { readonly status: number; readonly backend: string; readonly ms: number } | { readonly error: string; readonly ms: number };

export interface LoadSummary {
  readonly url: string;
  readonly count: number;
  readonly concurrency: number;
  /** responses by status code */
  readonly statuses: Record<string, number>;
  /** responses by the echo's `version` (or `pod` when it has none); '?' when the body said neither */
  readonly backends: Record<string, number>;
  /** transport errors by message (no response at all) */
  readonly errors: Record<string, number>;
  /** responses with status < 400 */
  readonly ok: number;
  /** transport errors plus responses ≥ 400 */
  readonly failed: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  readonly seconds: number;
}

/** The echo's backend key of a response body: `version`, else `pod`, else '?' (not JSON, other server). */
export function backendOf(body: string): string {
  try {
    const j = JSON.parse(body) as { version?: unknown; pod?: unknown };
    if (typeof j.version === 'string' && j.version !== '') return j.version;
    if (typeof j.pod === 'string' && j.pod !== '') return j.pod;
  } catch {
    // not JSON: counted as '?'
  }
  return '?';
}

/** Nearest-rank percentile (q in 0..1) of ascending `sorted`; 0 when empty. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Outcomes → the summary line. */
export function summarize(opts: Pick<LoadOptions, 'url' | 'count' | 'concurrency'>, outcomes: readonly Outcome[], seconds: number): LoadSummary {
  const statuses: Record<string, number> = {};
  const backends: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  const inc = (m: Record<string, number>, k: string): void => { m[k] = (m[k] ?? 0) + 1; };
  for (const o of outcomes) {
    if ('error' in o) {
      inc(errors, o.error);
      failed++;
      continue;
    }
    inc(statuses, String(o.status));
    inc(backends, o.backend);
    if (o.status < 400) ok++;
    else failed++;
  }
  const ms = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  return {
    url: opts.url.href, count: opts.count, concurrency: opts.concurrency, statuses, backends, errors, ok, failed,
    latencyMs: { p50: round(percentile(ms, 0.5)), p90: round(percentile(ms, 0.9)), p99: round(percentile(ms, 0.99)), max: round(ms.at(-1) ?? 0) },
    seconds: round(seconds),
  };
}

function once(agent: http.Agent, o: LoadOptions): Promise<Outcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: Outcome): void => { if (!done) { done = true; resolve(r); } };
    const headers: Record<string, string> = {};
    for (const [n, v] of o.headers) headers[n] = headers[n] === undefined ? v : `${headers[n]}, ${v}`;
    const req = http.request(o.url, { agent, method: o.method, headers, timeout: o.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish({ status: res.statusCode ?? 0, backend: backendOf(Buffer.concat(chunks).toString('utf8')), ms: performance.now() - t0 }));
      res.on('error', (e) => finish({ error: (e as NodeJS.ErrnoException).code ?? e.message, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error(`no response within ${o.timeoutMs} ms`)));
    req.on('error', (e) => finish({ error: (e as NodeJS.ErrnoException).code ?? e.message, ms: performance.now() - t0 }));
    req.end();
  });
}

/** Runs the load and returns its summary. */
export async function runLoad(o: LoadOptions): Promise<LoadSummary> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const outcomes: Outcome[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < o.count) {
      next++;
      outcomes.push(await once(agent, o));
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return summarize(o, outcomes, (performance.now() - t0) / 1000);
}

/** The command: prints the summary; exit 1 when any request got no response (as `workload get`). */
export async function workloadLoad(argv: string[]): Promise<number> {
  const o = parseLoadFlags(argv, usageOf(['workload', 'load']));
  const s = await runLoad(o);
  process.stdout.write(`${JSON.stringify(s)}\n`);
  return Object.keys(s.errors).length > 0 ? 1 : 0;
}
