// A real Prometheus (Debian's) in the simulated cluster: it scrapes the controller and both agents
// through the file_sd targets the cluster writes; after real meshed HTTP across nodes (some 5xx, some
// slow, some denied) the success-rate and latency queries users write give the values sent, every
// dashboard panel has data, the recording rules produce series, promtool check metrics passes on
// every endpoint, and traffic keeps flowing with Prometheus stopped.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../../native/index.js';
import { SimCluster, execInNetns } from '../../sim/index.js';
import { FLAKY_URL, IPHONE_UA, SHOP_URL, load, waitForRoutes } from '../../cli/demo-traffic.js';
import { rootGate, sleep, waitFor } from './helpers.js';
import { loadDashboards } from '../unit/rules-helpers.js';

const skip = rootGate();
const IPHONE = `User-Agent: ${IPHONE_UA}`;
/** The Service shop-v1 (examples/demo-traffic), no route: never sent a 5xx here. */
const SHOP_V1_URL = 'http://10.96.20.11/';

interface Sample { readonly metric: Record<string, string>; readonly value: [number, string] }

describe('Prometheus scraping the simulated cluster', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let dir: string;

  /** An instant query; throws on a PromQL error. */
  const query = async (q: string): Promise<Sample[]> => {
    const r = await c.prometheusGet(`/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = JSON.parse(r.body) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } };
    assert.equal(body.status, 'success', `${q}: ${body.error ?? r.body}`);
    return body.data?.resultType === 'vector' ? body.data.result : [];
  };
  const scalar = async (q: string): Promise<number> => {
    const r = await query(q);
    assert.equal(r.length, 1, `${q} gave ${JSON.stringify(r)}`);
    return Number(r[0]!.value[1]);
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nm-prom-'));
    const demo = path.join(ROOT, 'examples', 'demo-traffic');
    for (const f of readdirSync(demo)) copyFileSync(path.join(demo, f), path.join(dir, f));
    copyFileSync(path.join(ROOT, 'test', 'netns', 'manifests', 'prometheus.yaml'), path.join(dir, 'policy.yaml'));
    c = await SimCluster.up({ manifestsDir: dir, prometheus: { intervalSeconds: 2 } });
    await waitForRoutes(c);
  });

  after(async () => {
    await c?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('file_sd targets: the controller and both agents are up, labelled node and component', async () => {
    await waitFor('3 targets up', async () => (await query('up == 1')).length === 3, 20_000, 500);
    const up = (await query('up')).map((s) => `${s.metric.component}/${s.metric.node ?? '-'}=${s.value[1]}`).sort();
    assert.deepEqual(up, ['agent/node-a=1', 'agent/node-b=1', 'controller/-=1']);
    const st = c.status;
    assert.ok(st.prometheus && existsSync(path.join(c.runDir, 'prometheus', 'data')), 'Prometheus pid and data dir under the run dir');
  });

  let bare: Awaited<ReturnType<typeof load>>;
  let slow: Awaited<ReturnType<typeof load>>;
  let errors: Awaited<ReturnType<typeof load>>;
  let retried: Awaited<ReturnType<typeof load>>;

  test('success rate and latency quantiles as users query them match the traffic sent', async (t) => {
    // every series first (rate() misses what a series held at its first scrape): shop/flaky-bare
    // has one endpoint (flaky, node-b); shop/iphone two (shop-v2-a same node, shop-v2-b over HBONE)
    // has one endpoint (flaky, node-b); shop/iphone two (shop-v2-a same node, shop-v2-b over HBONE);
    // the canary, the retry route and the denied path get theirs too, for the dashboards
    await load(c, `${FLAKY_URL}bare`, 2, { concurrency: 1 });
    await load(c, SHOP_URL, 20, { concurrency: 2 });
    await load(c, FLAKY_URL, 4, { concurrency: 1 });
    await load(c, `${FLAKY_URL}admin`, 2, { concurrency: 1 });
    // (fewer than 7 failures in a row: failure accrual must not eject shop-v2's endpoints, whose
    // 503s from the proxy would be new series)
    const iphoneSeries = async (code: number): Promise<number> => (await query(`response_total{route_name="shop/iphone",status_code="${code}"}`)).length;
    for (let i = 0; i < 8 && (await iphoneSeries(200) < 2 || await iphoneSeries(503) < 2); i++) {
      await load(c, SHOP_URL, 8, { concurrency: 4, headers: [IPHONE] });
      await load(c, `${SHOP_URL}?status=503`, 3, { concurrency: 2, headers: [IPHONE] });
      await sleep(2500);
    }
    await waitFor('the warm-up series in Prometheus', async () => (await query('response_total{route_name="shop/flaky-bare"}')).length === 2
      && await iphoneSeries(200) === 2 && await iphoneSeries(503) === 2
      && (await query('response_total{route_name="shop/canary"}')).length > 0
      && (await query('outbound_http_route_retry_requests_total{route_name="shop/flaky-retry"}')).length > 0
      && (await query('inbound_http_authz_deny_total{policy="shop/no-admin"}')).length > 0, 20_000, 500);
    // rate() over 1m extrapolates each series from its own first sample in the window: a series
    // born inside the window is scaled unlike its siblings, which skews a ratio; so the measured
    // window must start after every series exists (all of one target share scrape times)
    await sleep(62_000);
    // shop/flaky-bare: the flaky backend fails every second request (cross-node, node-b)
    bare = await load(c, `${FLAKY_URL}bare`, 200, { concurrency: 4 });
    const canary = await load(c, SHOP_URL, 100, { concurrency: 4 });
    assert.deepEqual(canary.statuses, { 200: 100 });
    // shop/iphone: 60 slow successes (≥ 120 ms) and, at the same time, 40 faster 503s (50 ms, one
    // at a time: interleaved, so failure accrual never sees 7 in a row and ejects nothing)
    [slow, errors] = await Promise.all([
      load(c, `${SHOP_URL}?delay=120ms`, 60, { concurrency: 2, headers: [IPHONE] }),
      load(c, `${SHOP_URL}?status=503&delay=50ms`, 40, { concurrency: 1, headers: [IPHONE] }),
    ]);
    // the retry route (its budget lets some 503s through at this rate) and denied requests (403 by
    // the DENY policy on flaky's node)
    retried = await load(c, FLAKY_URL, 100, { concurrency: 1 });
    const denied = await load(c, `${FLAKY_URL}admin`, 20, { concurrency: 2 });
    assert.equal(bare.count, 200);
    assert.ok((bare.statuses['503'] ?? 0) >= 90 && (bare.statuses['503'] ?? 0) <= 110, JSON.stringify(bare.statuses));
    assert.deepEqual(slow.statuses, { 200: 60 });
    assert.deepEqual(errors.statuses, { 503: 40 });
    assert.equal((retried.statuses['200'] ?? 0) + (retried.statuses['503'] ?? 0), 100, JSON.stringify(retried.statuses));
    assert.ok((retried.statuses['200'] ?? 0) > (bare.statuses['200'] ?? 0) / 2, `the retry route hides most failures: ${JSON.stringify(retried.statuses)}`);
    assert.deepEqual(denied.statuses, { 403: 20 });
    // wait until Prometheus has scraped the final counts (node-a's outbound side)
    await waitFor('the last counts scraped', async () => {
      const n = await query('sum(response_total{direction="outbound",route_name="shop/flaky-bare"})');
      return Number(n[0]?.value[1] ?? 0) === 202;
    }, 20_000, 500);
    await sleep(2500);

    const successRate = (route: string): string => `sum(rate(response_total{direction="outbound",route_name="${route}",classification="success"}[1m])) / sum(rate(response_total{direction="outbound",route_name="${route}"}[1m]))`;
    const wantBare = (bare.statuses['200'] ?? 0) / bare.count;
    const gotBare = await scalar(successRate('shop/flaky-bare'));
    assert.ok(Math.abs(gotBare - wantBare) <= 0.03, `flaky-bare success rate ${gotBare}, sent ${wantBare}`);
    const gotIphone = await scalar(successRate('shop/iphone'));
    assert.ok(Math.abs(gotIphone - 0.6) <= 0.03, `iphone success rate ${gotIphone}, sent 0.6`);
    const gotRetry = await scalar(successRate('shop/flaky-retry'));
    assert.ok(Math.abs(gotRetry - (retried.statuses['200'] ?? 0) / 100) <= 0.03, `flaky-retry success rate ${gotRetry}, client saw ${JSON.stringify(retried.statuses)}`);
    // per workload (the flaky backend, outbound side), as Linkerd's stat shows it
    const gotFlaky = await scalar('sum(rate(response_total{direction="outbound",dst_workload="flaky",route_name="shop/flaky-bare",classification="success"}[1m])) / sum(rate(response_total{direction="outbound",dst_workload="flaky",route_name="shop/flaky-bare"}[1m]))');
    assert.ok(Math.abs(gotFlaky - wantBare) <= 0.03, `flaky workload success rate ${gotFlaky}`);
    // latency: 60 of 100 iphone responses took ≥ 120 ms, 40 were immediate
    const quantile = (q: number): string => `histogram_quantile(${q}, sum by (le) (rate(response_latency_seconds_bucket{direction="outbound",route_name="shop/iphone"}[1m])))`;
    const p50 = await scalar(quantile(0.5));
    const p99 = await scalar(quantile(0.99));
    const p25 = await scalar(quantile(0.25));
    assert.ok(p50 >= 0.1 && p50 <= 0.2, `iphone p50 ${p50} s, expected in the (0.1, 0.2] bucket`);
    assert.ok(p99 >= 0.1 && p99 <= 0.3, `iphone p99 ${p99} s`);
    assert.ok(p25 < 0.1, `iphone p25 ${p25} s: the fast 503s`);
    t.diagnostic(`success rate flaky-bare ${gotBare.toFixed(3)} (sent ${wantBare.toFixed(3)}), iphone ${gotIphone.toFixed(3)} (sent 0.600), flaky-retry ${gotRetry.toFixed(3)}; iphone p25 ${p25.toFixed(4)} s, p50 ${p50.toFixed(4)} s, p99 ${p99.toFixed(4)} s`);
    // (the exact counts were checked above: Prometheus holds node-a's 202 flaky-bare responses; increase()
    // over a window extrapolates, so it is no exact count)
  });

  test('recording rules are loaded, healthy, and give the same answers', async () => {
    const r = JSON.parse((await c.prometheusGet('/api/v1/rules')).body) as { data: { groups: { name: string; rules: { name: string; health: string; lastError?: string; type: string }[] }[] } };
    const plain = (parse(readFileSync(path.join(ROOT, 'deploy', 'prometheus', 'rules.yaml'), 'utf8')) as { groups: { name: string; rules: { record?: string; alert?: string }[] }[] }).groups;
    assert.deepEqual(r.data.groups.map((g) => g.name).sort(), plain.map((g) => g.name).sort());
    for (const g of r.data.groups) for (const rule of g.rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError ?? ''}`);
    const records = plain.flatMap((g) => g.rules.flatMap((x) => (x.record ? [x.record] : [])));
    for (const rec of records) {
      await waitFor(`series of ${rec}`, async () => (await query(rec)).length > 0, 10_000, 500);
    }
    const wantBare = (bare.statuses['200'] ?? 0) / bare.count;
    const routeSr = await scalar('nodemesh_route:response_success:ratio_rate1m{route_name="shop/flaky-bare"}');
    assert.ok(Math.abs(routeSr - wantBare) <= 0.03, `recorded flaky-bare success rate ${routeSr}`);
    const iphoneSr = await scalar('nodemesh_route:response_success:ratio_rate1m{route_name="shop/iphone"}');
    assert.ok(Math.abs(iphoneSr - 0.6) <= 0.03, `recorded iphone success rate ${iphoneSr}`);
    const p50 = await scalar('nodemesh_route:response_latency_seconds:p50_rate1m{route_name="shop/iphone"}');
    assert.ok(p50 >= 0.1 && p50 <= 0.2, `recorded iphone p50 ${p50}`);
    assert.equal(await scalar('nodemesh_route:response_success:ratio_rate1m{route_name="shop/canary"}'), 1);
    // the error-rate alert is pending (for: 5m) on the failing route only; the denial alert fires
    // (the alert group evaluates on its own 2 s tick, after the recorded series it reads)
    type Alert = { labels: Record<string, string>; state: string };
    let alerts: Alert[] = [];
    const byName = (n: string): Alert[] => alerts.filter((a) => a.labels.alertname === n);
    const routeAlerts = (): string[] => byName('NodemeshRouteErrorRate').map((a) => `${a.labels.route_name}:${a.state}`).sort();
    await waitFor('the error-rate alerts', async () => {
      alerts = (JSON.parse((await c.prometheusGet('/api/v1/alerts')).body) as { data: { alerts: Alert[] } }).data.alerts;
      return routeAlerts().length === 2;
    }, 10_000, 500).catch(() => undefined);
    assert.deepEqual(routeAlerts(), ['shop/flaky-bare:pending', 'shop/iphone:pending']);
    assert.deepEqual(byName('NodemeshHTTPAuthorizationDenials').map((a) => `${a.labels.policy}:${a.state}`), ['shop/no-admin:firing']);
    assert.deepEqual(byName('NodemeshConfigNacked'), []);
  });

  test('every dashboard panel has data for the traffic sent', async () => {
    // the template variables the traffic gives values to; the workload dashboard once as a server, once as a client
    const sets: Record<string, Record<string, string>[]> = {
      'nodemesh-overview': [{ namespace: 'shop' }],
      'nodemesh-workload': [{ namespace: 'shop', workload: 'flaky' }, { namespace: 'shop', workload: 'client' }],
      'nodemesh-route': [{ namespace: 'shop', route: 'shop/flaky-retry' }, { namespace: 'shop', route: 'shop/canary' }],
    };
    // panels that stay at zero or empty on a healthy cluster (they show failures)
    const healthOnly = new Set(['Config and capture']);
    const subst = (expr: string, vars: Record<string, string>): string => expr.replaceAll('$__rate_interval', '2m').replace(/\$\{?(\w+)\}?/g, (m, v: string) => vars[v] ?? m);
    const missing: string[] = [];
    let ran = 0;
    for (const d of loadDashboards(path.join(ROOT, 'deploy', 'dashboards'))) {
      const varSets = sets[d.json.uid];
      assert.ok(varSets, `no variable values for ${d.json.uid}`);
      for (const v of d.json.templating.list) {
        if (v.type !== 'query' || typeof v.query !== 'object') continue;
        for (const vars of varSets) {
          const values = await variableValues(v.query.query, v.regex ?? '', vars);
          assert.ok(values.includes(vars[v.name]!), `${d.file} variable ${v.name}: ${JSON.stringify(values)} lacks ${vars[v.name]}`);
        }
      }
      for (const p of d.json.panels) {
        let samples: Sample[] = [];
        for (const vars of varSets) for (const t of p.targets) { samples = samples.concat(await query(subst(t.expr, vars))); ran++; }
        const values = samples.map((s) => Number(s.value[1])).filter((x) => Number.isFinite(x));
        if (values.length === 0 && !healthOnly.has(p.title)) missing.push(`${d.file} "${p.title}": no data`);
        else if (!healthOnly.has(p.title) && values.every((x) => x === 0)) missing.push(`${d.file} "${p.title}": only zeros`);
      }
    }
    assert.deepEqual(missing, []);
    assert.ok(ran >= 40, `ran ${ran} queries`);

    async function variableValues(q: string, regex: string, vars: Record<string, string>): Promise<string[]> {
      const filled = subst(q, vars);
      const lv = /^label_values\((.*),\s*(\w+)\)$/s.exec(filled);
      if (lv) {
        const r = JSON.parse((await c.prometheusGet(`/api/v1/label/${lv[2]}/values?match[]=${encodeURIComponent(lv[1]!)}`)).body) as { data: string[] };
        return r.data;
      }
      const qr = /^query_result\((.*)\)$/s.exec(filled);
      assert.ok(qr, `unsupported variable query ${q}`);
      const re = new RegExp(regex.replace(/^\/|\/$/g, ''));
      return (await query(qr[1]!)).map((s) => re.exec(`{${Object.entries(s.metric).map(([k, v]) => `${k}="${v}"`).join(', ')}}`)?.[1] ?? '').filter(Boolean);
    }
  });

  test('promtool check metrics passes on every scraped endpoint', async (t) => {
    const targets = JSON.parse((await c.prometheusGet('/api/v1/targets')).body) as { data: { activeTargets: { scrapeUrl: string; labels: Record<string, string> }[] } };
    assert.equal(targets.data.activeTargets.length, 3);
    for (const tg of targets.data.activeTargets) {
      const r = await execInNetns(c.status.fabricNetns, ['curl', '-sS', '-m', '5', tg.scrapeUrl]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes('# TYPE'), `${tg.scrapeUrl}: no metrics`);
      if (tg.labels.component === 'agent' && tg.labels.node === 'node-a') assert.match(r.stdout, /^response_latency_seconds_bucket\{/m, 'node-a has golden series after the traffic');
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: r.stdout, encoding: 'utf8' });
      assert.equal(lint.status, 0, `${tg.scrapeUrl} (${tg.labels.component} ${tg.labels.node ?? ''}): promtool check metrics says\n${lint.stdout}${lint.stderr}`);
    }
    // what a scrape costs, as Prometheus measured it (bench/README.md)
    for (const s of await query('scrape_duration_seconds')) {
      const samples = await query(`scrape_samples_scraped{instance="${s.metric.instance}"}`);
      t.diagnostic(`scrape ${s.metric.component} ${s.metric.node ?? ''}: ${(Number(s.value[1]) * 1000).toFixed(1)} ms, ${samples[0]?.value[1]} samples`);
    }
  });

  test('with Prometheus stopped, meshed traffic is unaffected', async () => {
    const pid = c.status.prometheus?.pid;
    assert.ok(pid);
    await c.stopPrometheus();
    assert.equal(existsSync(`/proc/${pid}`), false, 'prometheus is gone');
    const s = await load(c, SHOP_V1_URL, 200, { concurrency: 8 });
    assert.deepEqual(s.statuses, { 200: 200 });
    // one at a time, the flaky backend alternates: exactly half fail, as before
    const f = await load(c, `${FLAKY_URL}bare`, 50, { concurrency: 1 });
    assert.deepEqual(f.statuses, { 200: 25, 503: 25 });
  });

  test('cluster down removes the Prometheus state with the run dir', async () => {
    const runDir = c.runDir;
    await c.down();
    assert.equal(existsSync(runDir), false);
  });
});
