// The traffic demo's scenarios end to end (the functions `nodemesh demo traffic` runs, from
// cli/demo-traffic.ts) on examples/demo-traffic: the canary's 10 % ± 2 % over 2,000 requests,
// every iPhone request to v2, Marketing's 50 % ± 5 % over 1,000 with the others untouched, and a
// retry hiding a backend that fails every second request, checked against node-a's golden metrics.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT } from '../../native/index.js';
import { SimCluster } from '../../sim/index.js';
import { canaryScenario, goldenSummary, goldenText, iphoneScenario, marketingScenario, retryScenario, waitForRoutes } from '../../cli/demo-traffic.js';
import { rootGate } from './helpers.js';

const skip = rootGate();

describe('nodemesh demo traffic: the seeds scenarios', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;

  before(async () => {
    c = await SimCluster.up({ manifestsDir: path.join(ROOT, 'examples', 'demo-traffic'), agents: true });
    await waitForRoutes(c);
  });

  after(async () => {
    await c?.down();
  });

  test('canary: 10 % ± 2 % of 2,000 requests to v2, the rest to v1, as request_total counts them', async () => {
    const r = await canaryScenario(c, 2000);
    assert.equal(r.summary.count, 2000);
    assert.equal(r.summary.failed, 0);
    assert.equal((r.summary.backends.v1 ?? 0) + (r.summary.backends.v2 ?? 0), 2000, JSON.stringify(r.summary.backends));
    assert.ok(Math.abs(r.v2Share - 0.1) <= 0.02, `v2 got ${r.v2Share}`);
    assert.deepEqual(r.metrics, { 'shop/shop-v1': r.summary.backends.v1, 'shop/shop-v2': r.summary.backends.v2 });
  });

  test('iPhone users: all 200 to v2 (the header route wins over the canary)', async () => {
    const r = await iphoneScenario(c, 200);
    assert.deepEqual(r.summary.backends, { v2: 200 });
    assert.deepEqual(r.summary.statuses, { 200: 200 });
    assert.deepEqual(r.metrics, { 'shop/shop-v2': 200 });
  });

  test("Marketing: iPhone + es-south, 50 % ± 5 % of 1,000 to the feature; other regions and desktops untouched", async () => {
    const r = await marketingScenario(c, 1000, 200);
    assert.equal(r.summary.failed, 0);
    assert.equal((r.summary.backends.v2 ?? 0) + (r.summary.backends.feature ?? 0), 1000, JSON.stringify(r.summary.backends));
    assert.ok(Math.abs(r.featureShare - 0.5) <= 0.05, `feature got ${r.featureShare}`);
    assert.deepEqual(r.metrics, { 'shop/shop-v2': r.summary.backends.v2, 'shop/shop-feature': r.summary.backends.feature });
    assert.deepEqual(r.otherRegion.backends, { v2: 200 });
    assert.equal(r.desktopSouth.backends.feature, undefined);
    assert.equal((r.desktopSouth.backends.v1 ?? 0) + (r.desktopSouth.backends.v2 ?? 0), 200);
  });

  test('retry: 0 failures seen by the client through the retry route; the same backend fails without it', async () => {
    const r = await retryScenario(c, 100);
    assert.equal(r.retried.failed, 0, JSON.stringify(r.retried));
    assert.deepEqual(r.retried.statuses, { 200: 100 });
    // --fail-every 2, one request at a time: half of the bare route's requests fail
    assert.ok((r.bare.statuses['503'] ?? 0) >= 45 && (r.bare.statuses['503'] ?? 0) <= 55, JSON.stringify(r.bare.statuses));
    assert.deepEqual(r.responses['shop/flaky-retry'], { 200: 100 });
    assert.equal(r.responses['shop/flaky-bare']?.['503'], r.bare.statuses['503']);
  });

  test('golden metrics of the routes: request_total, response_total and a latency percentile per route', async () => {
    const lines = goldenSummary(await goldenText(c));
    for (const route of ['shop/canary', 'shop/iphone', 'shop/marketing', 'shop/flaky-retry', 'shop/flaky-bare']) {
      assert.ok(lines.some((l) => l.startsWith(route)), `${route} missing from\n${lines.join('\n')}`);
    }
    assert.ok(lines.every((l) => !l.includes('p99 ≤ undefined')), lines.join('\n'));
  });
});
