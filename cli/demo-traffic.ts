// `nodemesh demo traffic`: the seeds' L7 cases on examples/demo-traffic, with counts — a canary
// HTTPRoute (10 % to v2), iPhone users to v2, Marketing's iPhone-in-Southern-Spain half, a retry
// hiding a flaky endpoint — then the golden metrics of those routes. The scenario functions are
// exported: test/netns/l7-demo.test.ts runs the same ones and asserts their counts.

import path from 'node:path';
import { MeshError, toMeshError } from '../common/errors.js';
import { ROOT } from '../native/index.js';
import { SimCluster } from '../sim/index.js';
import { parseFlags } from './args.js';
import { usageOf } from './commands.js';
import { metricLines, metricSum } from './demo.js';
import type { LoadSummary } from './workload-load.js';

export const SHOP_URL = 'http://10.96.20.10/';
export const FLAKY_URL = 'http://10.96.20.20/';
export const CLIENT = 'shop/client';
export const IPHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148';
export const DESKTOP_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
/** The routes of routes.yaml, as the golden metrics label them (route_name). */
export const ROUTES = ['shop/marketing', 'shop/iphone', 'shop/canary', 'shop/flaky-retry', 'shop/flaky-bare'] as const;

const out = (m = ''): void => { process.stdout.write(`${m}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const fail = (m: string): never => { throw new MeshError('MESH_ERR_DEMO', m); };

/** Runs `nodemesh workload load` in the client pod and returns its summary line. */
export async function load(c: SimCluster, url: string, count: number, opts: { concurrency?: number; headers?: readonly string[] } = {}): Promise<LoadSummary> {
  const argv = ['nodemesh', 'workload', 'load', url, '--count', String(count), '--concurrency', String(opts.concurrency ?? 8), '--timeout-ms', '5000'];
  for (const h of opts.headers ?? []) argv.push('--header', h);
  const r = await c.exec(CLIENT, argv, { timeoutMs: 120_000 });
  const line = r.stdout.trim().split('\n')[0] ?? '';
  if (!line.startsWith('{')) fail(`workload load ${url} in ${CLIENT} printed no summary (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  return JSON.parse(line) as LoadSummary;
}

/** Share of the responses that came from `backend` (the echo's version). */
export function share(s: LoadSummary, backend: string): number {
  return (s.backends[backend] ?? 0) / s.count;
}

function noFailures(s: LoadSummary, what: string): void {
  if (s.failed > 0) fail(`${what}: ${s.failed} of ${s.count} requests failed (statuses ${JSON.stringify(s.statuses)}, errors ${JSON.stringify(s.errors)}); expected none`);
}

function onlyFrom(s: LoadSummary, allowed: readonly string[], what: string): void {
  const other = Object.keys(s.backends).filter((b) => !allowed.includes(b));
  if (other.length > 0) fail(`${what}: answered by ${other.join(', ')} (${JSON.stringify(s.backends)}); expected only ${allowed.join(' and ')}`);
}

function within(got: number, want: number, tol: number, what: string): void {
  if (Math.abs(got - want) > tol) fail(`${what}: ${pct(got)}, expected ${pct(want)} ± ${pct(tol)}`);
}

/** node-a's (the client's node) outbound golden metrics text. */
export async function goldenText(c: SimCluster, node = 'node-a'): Promise<string> {
  return (await c.agentGet(node, '/metrics')).body;
}

/** request_total of one route on node-a, by backend Service. */
export function requestsByBackend(text: string, route: string): Record<string, number> {
  const byBackend: Record<string, number> = {};
  for (const l of metricLines(text, 'request_total', { direction: 'outbound', route_name: route })) {
    const b = /backend="([^"]*)"/.exec(l)?.[1] ?? '?';
    byBackend[b] = (byBackend[b] ?? 0) + Number(l.slice(l.lastIndexOf(' ') + 1));
  }
  return byBackend;
}

/** Waits until node-a routes by the HTTPRoutes: an iPhone request to shop answered by v2. */
export async function waitForRoutes(c: SimCluster, timeoutMs = 30_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const s = await load(c, SHOP_URL, 1, { concurrency: 1, headers: [`User-Agent: ${IPHONE_UA}`] }).catch(() => undefined);
    if (s?.backends.v2 === 1 && (s.statuses['200'] ?? 0) === 1) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) fail(`node-a did not route by the HTTPRoutes of examples/demo-traffic within ${timeoutMs} ms (an iPhone request got ${JSON.stringify(s?.backends)}); see the agent and controller logs`);
    await sleep(250);
  }
}

/** Delta of request_total by backend for one route across `run`, checked against the client's own counts. */
async function counted<T extends LoadSummary>(c: SimCluster, route: string, run: () => Promise<T>): Promise<{ s: T; metrics: Record<string, number> }> {
  const before = requestsByBackend(await goldenText(c), route);
  const s = await run();
  const after = requestsByBackend(await goldenText(c), route);
  const metrics: Record<string, number> = {};
  for (const [b, n] of Object.entries(after)) if (n - (before[b] ?? 0) > 0) metrics[b] = n - (before[b] ?? 0);
  return { s, metrics };
}

export interface CanaryResult { readonly summary: LoadSummary; readonly v2Share: number; readonly metrics: Record<string, number> }

/** (a) the canary: `count` desktop requests, 10 % ± 2 % to v2, the rest v1, all counted on route shop/canary. */
export async function canaryScenario(c: SimCluster, count = 2000): Promise<CanaryResult> {
  const { s, metrics } = await counted(c, 'shop/canary', () => load(c, SHOP_URL, count, { headers: [`User-Agent: ${DESKTOP_UA}`] }));
  noFailures(s, 'canary');
  onlyFrom(s, ['v1', 'v2'], 'canary');
  const v2Share = share(s, 'v2');
  within(v2Share, 0.1, 0.02, `canary: v2's share of ${count} requests`);
  if ((metrics['shop/shop-v2'] ?? 0) !== (s.backends.v2 ?? 0) || (metrics['shop/shop-v1'] ?? 0) !== (s.backends.v1 ?? 0)) {
    fail(`canary: node-a's request_total{route_name="shop/canary"} grew by ${JSON.stringify(metrics)}, expected the client's counts ${JSON.stringify(s.backends)} on backends shop/shop-v1 and shop/shop-v2`);
  }
  return { summary: s, v2Share, metrics };
}

export interface IphoneResult { readonly summary: LoadSummary; readonly metrics: Record<string, number> }

/** (b) `count` iPhone requests, every one to v2 on route shop/iphone. */
export async function iphoneScenario(c: SimCluster, count = 200): Promise<IphoneResult> {
  const { s, metrics } = await counted(c, 'shop/iphone', () => load(c, SHOP_URL, count, { headers: [`User-Agent: ${IPHONE_UA}`] }));
  noFailures(s, 'iPhone');
  onlyFrom(s, ['v2'], 'iPhone users');
  if ((metrics['shop/shop-v2'] ?? 0) !== count) fail(`iPhone: request_total{route_name="shop/iphone"} grew by ${JSON.stringify(metrics)}, expected ${count} on shop/shop-v2`);
  return { summary: s, metrics };
}

export interface MarketingResult {
  readonly summary: LoadSummary;
  readonly featureShare: number;
  readonly metrics: Record<string, number>;
  /** iPhone users elsewhere (x-region: es-north): all v2, as (b) */
  readonly otherRegion: LoadSummary;
  /** desktop users in es-south: the canary's v1/v2, never the feature */
  readonly desktopSouth: LoadSummary;
}

/** (c) Marketing: `count` iPhone requests from es-south, 50 % ± 5 % to the feature, the rest v2; the non-matching ones untouched. */
export async function marketingScenario(c: SimCluster, count = 1000, others = 200): Promise<MarketingResult> {
  const { s, metrics } = await counted(c, 'shop/marketing', () => load(c, SHOP_URL, count, { headers: [`User-Agent: ${IPHONE_UA}`, 'x-region: es-south'] }));
  noFailures(s, 'Marketing');
  onlyFrom(s, ['v2', 'feature'], 'iPhone users in es-south');
  const featureShare = share(s, 'feature');
  within(featureShare, 0.5, 0.05, `Marketing: the feature's share of ${count} iPhone requests from es-south`);
  if ((metrics['shop/shop-feature'] ?? 0) !== (s.backends.feature ?? 0)) fail(`Marketing: request_total{route_name="shop/marketing",backend="shop/shop-feature"} grew by ${metrics['shop/shop-feature'] ?? 0}, expected the client's ${s.backends.feature ?? 0}`);
  const otherRegion = await load(c, SHOP_URL, others, { headers: [`User-Agent: ${IPHONE_UA}`, 'x-region: es-north'] });
  noFailures(otherRegion, 'iPhone users in es-north');
  onlyFrom(otherRegion, ['v2'], 'iPhone users in es-north (the iPhone route, untouched by Marketing)');
  const desktopSouth = await load(c, SHOP_URL, others, { headers: [`User-Agent: ${DESKTOP_UA}`, 'x-region: es-south'] });
  noFailures(desktopSouth, 'desktop users in es-south');
  onlyFrom(desktopSouth, ['v1', 'v2'], 'desktop users in es-south (the canary, untouched by Marketing)');
  return { summary: s, featureShare, metrics, otherRegion, desktopSouth };
}

export interface RetryResult {
  /** through shop/flaky-retry: what the client saw */
  readonly retried: LoadSummary;
  /** through shop/flaky-bare (no retry): the same backend's failures, unhidden */
  readonly bare: LoadSummary;
  /** response_total deltas on node-a by route and status code */
  readonly responses: Record<string, Record<string, number>>;
}

function responsesByStatus(text: string, route: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const l of metricLines(text, 'response_total', { direction: 'outbound', route_name: route })) {
    const code = /status_code="([^"]*)"/.exec(l)?.[1] ?? '?';
    r[code] = (r[code] ?? 0) + Number(l.slice(l.lastIndexOf(' ') + 1));
  }
  return r;
}

/**
 * (d) the flaky backend answers 503 to every 2nd request it gets. One request at a time (so the
 * retry is the attempt right after the failure): through the retry route the client sees no
 * failure; through /bare (no retry) about half fail. `count` stays within the retry budget (20 %
 * of requests plus 10/s over 10 s: ~count retries for count ≤ 120).
 */
export async function retryScenario(c: SimCluster, count = 100): Promise<RetryResult> {
  const before = await goldenText(c);
  const retried = await load(c, FLAKY_URL, count, { concurrency: 1 });
  const bare = await load(c, `${FLAKY_URL}bare`, count, { concurrency: 1 });
  const after = await goldenText(c);
  const responses: Record<string, Record<string, number>> = {};
  for (const route of ['shop/flaky-retry', 'shop/flaky-bare']) {
    const b = responsesByStatus(before, route);
    const d: Record<string, number> = {};
    for (const [k, n] of Object.entries(responsesByStatus(after, route))) if (n - (b[k] ?? 0) > 0) d[k] = n - (b[k] ?? 0);
    responses[route] = d;
  }
  noFailures(retried, 'retry route shop/flaky-retry');
  if ((bare.statuses['503'] ?? 0) === 0) fail(`the flaky backend (--fail-every 2) answered no 503 through shop/flaky-bare (statuses ${JSON.stringify(bare.statuses)}); expected about half`);
  if ((responses['shop/flaky-retry']?.['200'] ?? 0) !== count || Object.keys(responses['shop/flaky-retry'] ?? {}).length !== 1) {
    fail(`response_total{route_name="shop/flaky-retry"} grew by ${JSON.stringify(responses['shop/flaky-retry'])}, expected ${count} × 200 and nothing else`);
  }
  if ((responses['shop/flaky-bare']?.['503'] ?? 0) !== (bare.statuses['503'] ?? 0)) {
    fail(`response_total{route_name="shop/flaky-bare",status_code="503"} grew by ${responses['shop/flaky-bare']?.['503'] ?? 0}, expected the client's ${bare.statuses['503']}`);
  }
  return { retried, bare, responses };
}

/** Quantile `q` of a Prometheus histogram from its cumulative `_bucket` lines (summed over series): the upper bound of the bucket holding it. */
export function histogramQuantile(text: string, name: string, match: Record<string, string>, q: number): number | undefined {
  const byLe = new Map<number, number>();
  for (const l of metricLines(text, `${name}_bucket`, match)) {
    const le = /le="([^"]*)"/.exec(l)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    byLe.set(bound, (byLe.get(bound) ?? 0) + Number(l.slice(l.lastIndexOf(' ') + 1)));
  }
  const total = byLe.get(Infinity) ?? 0;
  if (total === 0) return undefined;
  for (const [bound, cum] of [...byLe.entries()].sort((a, b) => a[0] - b[0])) if (cum >= q * total) return bound;
  return Infinity;
}

/** The golden metrics of the demo's routes on one node, as lines to print. */
export function goldenSummary(text: string): string[] {
  const lines: string[] = [];
  for (const route of ROUTES) {
    const m = { direction: 'outbound', route_name: route };
    const req = requestsByBackend(text, route);
    if (Object.keys(req).length === 0) continue;
    const ms = (q: number): number | undefined => {
      const s = histogramQuantile(text, 'response_latency_seconds', m, q);
      return s === undefined ? undefined : Number((s * 1000).toPrecision(12));
    };
    const p50 = ms(0.5);
    const p99 = ms(0.99);
    lines.push(`${route.padEnd(18)} request_total ${Object.entries(req).map(([b, n]) => `${b}=${n}`).join(' ')}`);
    lines.push(`${''.padEnd(18)} response_total ${Object.entries(responsesByStatus(text, route)).map(([s, n]) => `${s}=${n}`).join(' ')}   latency p50 ≤ ${p50} ms, p99 ≤ ${p99} ms`);
  }
  return lines;
}

export async function demoTraffic(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { manifests: { type: 'string' } }, usageOf(['demo', 'traffic']));
  const dir = typeof values.manifests === 'string' ? values.manifests : path.join(ROOT, 'examples', 'demo-traffic');
  const total = 7;
  let n = 0;
  let stepName = '';
  const step = (what: string): void => { n++; stepName = what; out(`\n[${n}/${total}] ${what}`); };
  let c: SimCluster | undefined;
  try {
    step(`bring up the cluster from ${path.relative(process.cwd(), dir) || dir} with one agent per node`);
    const t0 = Date.now();
    c = await SimCluster.up({ manifestsDir: dir, agents: true, onProgress: (m) => out(`      ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${m}`) });
    for (const p of c.pods) out(`      ${p.key.padEnd(18)} ${p.node.padEnd(8)} ${p.ip}`);
    const ms = await waitForRoutes(c);
    out(`      node-a routes by the HTTPRoutes (after ${ms} ms)`);
    const t1 = Date.now();

    step('canary: 2,000 desktop requests to shop (route shop/canary: shop-v1 90, shop-v2 10)');
    const a = await canaryScenario(c);
    out(`      ${JSON.stringify(a.summary.backends)} → v2 ${pct(a.v2Share)} (expected 10 % ± 2 %) ✓; p99 ${a.summary.latencyMs.p99} ms`);
    out(`      node-a request_total{route_name="shop/canary"} +${JSON.stringify(a.metrics)}, the client's counts ✓`);

    step('iPhone users: 200 requests with User-Agent matching ".*iPhone.*" (route shop/iphone → shop-v2)');
    const b = await iphoneScenario(c);
    out(`      ${JSON.stringify(b.summary.backends)} → all to v2 ✓ (the header route wins over the canary: 1 header match > 0)`);

    step("Marketing: 1,000 iPhone requests with x-region: es-south (route shop/marketing: shop-v2 1, shop-feature 1)");
    const m = await marketingScenario(c);
    out(`      ${JSON.stringify(m.summary.backends)} → feature ${pct(m.featureShare)} (expected 50 % ± 5 %) ✓`);
    out(`      untouched: iPhone in es-north ${JSON.stringify(m.otherRegion.backends)} (all v2 ✓), desktop in es-south ${JSON.stringify(m.desktopSouth.backends)} (the canary, no feature ✓)`);

    step('a retry hiding a flaky endpoint (flaky answers 503 to every 2nd request)');
    const r = await retryScenario(c);
    out(`      through shop/flaky-retry (retry: attempts 2, codes [503]): ${r.retried.ok}/${r.retried.count} succeeded, ${r.retried.failed} failures seen by the client ✓`);
    out(`      through shop/flaky-bare (no retry), the same backend: ${JSON.stringify(r.bare.statuses)}`);
    out(`      response_total on node-a: flaky-retry ${JSON.stringify(r.responses['shop/flaky-retry'])}, flaky-bare ${JSON.stringify(r.responses['shop/flaky-bare'])}`);
    out(`      the backend fails every 2nd attempt (flaky-bare: ${r.bare.statuses['503'] ?? 0} of ${r.bare.count}), so ${r.retried.ok} successes took ≥ ${2 * r.retried.ok - 1} attempts: ≥ ${r.retried.ok - 1} retries`);
    out('      (golden metrics count each request once, with its final response: the retried 503s are in no series)');

    step("golden metrics of these routes (node-a, the client's node, outbound)");
    for (const l of goldenSummary(await goldenText(c))) out(`      ${l}`);
    out(`      (scenarios took ${((Date.now() - t1) / 1000).toFixed(1)} s)`);
    const inbound = metricSum(await goldenText(c, 'node-b'), 'request_total', { direction: 'inbound' });
    if (inbound > 0) out(`      node-b inbound request_total: ${inbound}`);

    step('tear down');
    const down = await c.down();
    c = undefined;
    out(`      removed ${down.netns.length} network namespaces and ${down.pinDirs.length} BPF pin dirs`);
    out('\ndemo traffic passed');
    return 0;
  } catch (e) {
    const err = toMeshError(e, 'MESH_ERR_DEMO', `step ${n} (${stepName})`);
    throw err.code === 'MESH_ERR_DEMO' || n === 0 ? err : new MeshError(err.code, `demo traffic step ${n} (${stepName}): ${err.message}`, { cause: err });
  } finally {
    if (c) {
      out('\ntearing down after the failure…');
      await c.down().catch((e: unknown) => out(`teardown: ${(e as Error).message}`));
    }
  }
}
