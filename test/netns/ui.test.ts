// The controller's web UI in a real browser (Debian's chromium, driven by playwright-core) on the
// insight test cluster: the service graph shows the workloads and an edge with numbers for the
// traffic sent, a workload page explains its pods, tap shows requests as they are sent, and with
// an agent down the UI names it and keeps working. Screenshots go to test/artifacts/ (gitignored).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../../native/index.js';
import { SimCluster } from '../../sim/index.js';
import { startDashboardForward } from '../../cli/insight.js';
import { manifestDir, rootGate } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const skip = rootGate() || (!existsSync(CHROMIUM) && process.env.CI !== 'true' ? `no browser at ${CHROMIUM} (apt-get install chromium)` : false);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('web UI in Chromium', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let fwd: net.Server;
  let browser: Browser;
  let page: Page;
  let base: string;
  const load = async (p: string, count: number): Promise<void> => {
    const r = await c.exec('web/client', ['nodemesh', 'workload', 'load', `http://10.96.9.10${p}`, '--count', String(count), '--concurrency', '2'], { timeoutMs: 60_000 });
    assert.equal(JSON.parse(r.stdout).ok, count, r.stdout + r.stderr);
  };
  const shot = async (name: string): Promise<void> => { await page.screenshot({ path: path.join(ARTIFACTS, `ui-${name}.png`), fullPage: true }); };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `MESH_ERR_NO_TOOL: no browser at ${CHROMIUM}; apt-get install chromium (scripts/setup.sh does)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    c = await SimCluster.up({ manifestsDir: manifestDir('insight.yaml'), agents: true });
    fwd = await startDashboardForward(path.join(c.runDir, 'controller', 'ui.sock'), 0);
    base = `http://127.0.0.1:${(fwd.address() as net.AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // traffic for the graph: client → api (both pods, one on each node)
    for (let i = 0; i < 30; i++) {
      const r = await c.exec('web/client', ['nodemesh', 'workload', 'load', 'http://10.96.9.10/', '--count', '1'], { timeoutMs: 10_000 });
      if (r.code === 0 && JSON.parse(r.stdout).ok === 1) break;
      await sleep(500);
    }
    await load('/', 200);
  });

  after(async () => {
    await browser?.close();
    fwd?.close();
    await c?.down();
  });

  test('the service graph shows the workloads and the edge with its numbers', async () => {
    await page.goto(`${base}/#/`);
    // the edge appears once both agents reported the requests (every 5 s)
    const edge = page.locator('svg#graph g.edge[data-src="web/client"][data-dst="web/api"]');
    for (let i = 0; i < 30 && (await edge.count()) === 0; i++) { await sleep(1000); await page.reload(); }
    assert.equal(await edge.count(), 1, 'no web/client → web/api edge in the graph');
    for (const id of ['web/client', 'web/api', 'web/optout', 'secret/vault']) assert.equal(await page.locator(`svg#graph g.wl[data-id="${id}"]`).count(), 1, `${id} missing from the graph`);
    const label = await edge.locator('text').textContent();
    assert.match(label ?? '', /^\d+\.\d rps · 100\.0% · p99 [\d.]+ ms · mTLS$/);
    const row = page.locator('table#edges tr', { hasText: 'web/api' }).first();
    assert.match((await row.textContent()) ?? '', /web\/client\s*web\/api\s*20\d/);
    await shot('graph');
  });

  test('a workload page explains its pods and shows its inbound numbers', async () => {
    await page.goto(`${base}/#/workload/web/api`);
    // #view names the page it shows once rendered (a hash change alone keeps the old DOM until then)
    await page.waitForSelector('#view[data-route="workload/web/api"] .explain-summary');
    const summaries = await page.locator('.explain-summary').allTextContents();
    assert.equal(summaries.length, 2);
    for (const s of summaries) assert.match(s, /^meshed/);
    assert.match((await page.locator('#explain').textContent()) ?? '', /web\/only-client/);
    const inbound = page.locator('tr[data-name="web/api"]').first();
    assert.match((await inbound.textContent()) ?? '', /100\.0%/);
    await page.goto(`${base}/#/workload/web/optout`);
    await page.waitForSelector('#view[data-route="workload/web/optout"] .explain-summary');
    assert.match((await page.locator('.explain-summary').first().textContent()) ?? '', /not meshed: the pod has the annotation nodemesh\.io\/capture/);
    await shot('workload');
  });

  test('tap shows requests as they are sent', async () => {
    await page.goto(`${base}/#/tap/web/api`);
    await page.waitForSelector('#tap-state:has-text("Tapping")');
    await load('/seen-in-browser', 5);
    for (let i = 0; i < 60 && (await page.locator('#tap tr.tap-row').count()) < 5; i++) await sleep(250);
    const rows = await page.locator('#tap tr.tap-row').allTextContents();
    assert.ok(rows.slice(0, 5).every((r) => r.includes('/seen-in-browser') && r.includes('GET') && r.includes('200') && r.includes('spiffe://cluster.local/ns/web/sa/client')), rows.join('\n'));
    await shot('tap');
    await page.click('#tap-stop');
  });

  test('with an agent down the UI says which, and keeps working', async () => {
    await c.stopAgent('node-b');
    try {
      await page.goto(`${base}/#/`);
      await page.waitForSelector('#nodes .node[data-node="node-b"][data-down="true"]', { timeout: 15_000 });
      assert.match((await page.locator('#nodes .node[data-node="node-b"]').textContent()) ?? '', /✗ node-b: agent not connected/);
      assert.equal(await page.locator('#nodes .node[data-node="node-a"][data-down="false"]').count(), 1);
      await page.waitForSelector('svg#graph g.wl[data-id="web/api"]');
      await shot('agent-down');
    } finally {
      await c.startAgent('node-b');
    }
  });
});
