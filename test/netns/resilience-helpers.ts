// Helpers of the L7 resilience e2e tests (l7-resilience*.test.ts): the load client and curl run in
// the client pod, the echo's own request count (x-echo-requests, read on the pod IP directly, so on
// the L4 path outside every route) and golden-metrics deltas read from the agent.

import assert from 'node:assert/strict';
import type { SimCluster } from '../../sim/index.js';
import { metricSum, sleep } from './helpers.js';

export const CLIENT = 'res/client';

/** `nodemesh workload load`'s summary line (cli/workload-load.ts). */
export interface LoadSummary {
  statuses: Record<string, number>;
  backends: Record<string, number>;
  errors: Record<string, number>;
  ok: number;
  failed: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  seconds: number;
}

export async function load(c: SimCluster, url: string, count: number, concurrency = 1, extra: string[] = []): Promise<LoadSummary> {
  const r = await c.exec(CLIENT, ['nodemesh', 'workload', 'load', url, '--count', String(count), '--concurrency', String(concurrency), '--timeout-ms', '10000', ...extra], { timeoutMs: 120_000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(line.startsWith('{'), `workload load printed no summary: ${r.stdout}${r.stderr}`);
  return JSON.parse(line) as LoadSummary;
}

export interface CurlResult { status: number; headers: Record<string, string>; body: string; seconds: number }

/** Requests in one curl process (one keep-alive connection), each with its status, headers and time. */
export async function curl(c: SimCluster, urls: string[], extra: string[] = []): Promise<CurlResult[]> {
  const args = ['curl', '-sS', '--max-time', '10', '-D', '-', ...extra];
  for (const u of urls) args.push(u, '-w', '\n@@END %{http_code} %{time_total}@@\n');
  const r = await c.exec(CLIENT, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `curl failed: ${r.stdout}${r.stderr}`);
  const out: CurlResult[] = [];
  for (const m of r.stdout.matchAll(/([\s\S]*?)\n@@END (\d+) ([\d.]+)@@\n/g)) {
    const [head, ...rest] = m[1]!.split(/\r?\n\r?\n/);
    const headers: Record<string, string> = {};
    for (const line of (head ?? '').split(/\r?\n/).slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    out.push({ status: Number(m[2]), headers, body: rest.join('\n\n'), seconds: Number(m[3]) });
  }
  assert.equal(out.length, urls.length, r.stdout);
  return out;
}

/** The echo pod's request count after one direct request to its pod IP (that request included). */
export async function echoCount(c: SimCluster, pod: string, port = 8080): Promise<number> {
  const [r] = await curl(c, [`http://${c.pod(pod).ip}:${port}/count`]);
  const n = Number(r!.headers['x-echo-requests']);
  assert.ok(Number.isInteger(n) && n > 0, `no x-echo-requests from ${pod}: ${JSON.stringify(r)}`);
  return n;
}

/** Requests `pod` received while `f` ran (the two direct count requests excluded). */
export async function received<T>(c: SimCluster, pod: string, f: () => Promise<T>): Promise<{ n: number; value: T; before: number }> {
  const before = await echoCount(c, pod);
  const value = await f();
  const after = await echoCount(c, pod);
  return { n: after - before - 1, value, before };
}

/** Golden metrics of the client's outbound requests on node-a, summed over `labels`. */
export class Golden {
  constructor(private readonly c: SimCluster) {}

  async text(): Promise<string> {
    return (await this.c.agentGet('node-a', '/metrics')).body;
  }

  async read(labels: Record<string, string>): Promise<{ requests: number; byStatus: Record<string, number>; failures: number }> {
    const m = await this.text();
    const base = { direction: 'outbound', src_namespace: 'res', src_workload: 'client', ...labels };
    const byStatus: Record<string, number> = {};
    for (const line of m.split('\n')) {
      if (!line.startsWith('response_total{')) continue;
      const want = Object.entries(base).every(([k, v]) => line.includes(`${k}="${v}"`));
      const s = /status_code="(\d+)"/.exec(line)?.[1];
      if (want && s) byStatus[s] = (byStatus[s] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return { requests: metricSum(m, 'request_total', base), byStatus, failures: metricSum(m, 'response_total', { ...base, classification: 'failure' }) };
  }

  /** What `f` added to the series of `labels`: requests, responses by status, failures. */
  async delta<T>(labels: Record<string, string>, f: () => Promise<T>): Promise<{ requests: number; byStatus: Record<string, number>; failures: number; value: T }> {
    const a = await this.read(labels);
    const value = await f();
    await sleep(150); // the agent serves one golden snapshot for up to 100 ms (telemetry/golden.ts)
    const b = await this.read(labels);
    const byStatus: Record<string, number> = {};
    for (const [s, n] of Object.entries(b.byStatus)) if (n - (a.byStatus[s] ?? 0) !== 0) byStatus[s] = n - (a.byStatus[s] ?? 0);
    return { requests: b.requests - a.requests, byStatus, failures: b.failures - a.failures, value };
  }
}
