// The report stream in one process over real gRPC on port 0: node credentials as for the config
// stream, a malformed snapshot dropped while the stream lives on, snapshots into stat rows, and
// tap commands down / records up through the TapHub, with the agent's own ReportClient.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { runController, TokenFileAuth, type ControllerHandle } from '../../controller/src/index.js';
import { ManifestSource } from '../../controller/src/sources/index.js';
import { TelemetryServiceClient, grpc } from '../../controller/src/grpc/index.js';
import { ReportClient, type SnapshotWire } from '../../agent/src/report/index.js';
import { Insight, ADMIN } from '../../dashboard/index.js';
import { view } from '../fixtures/decide-table.js';

const silent = pino({ level: 'silent' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const snapshot = (requests: number, atMs: number): SnapshotWire => ({
  atMs, startedAtMs: 1, bucketsMs: [1, 10], configVersion: 1, configError: '', authz: [], tcp: [],
  pods: [{ key: 'shop/server', workload: 'default', ip: '10.200.1.11', meshed: true, reason: 'enrolled', capture: 'attached', captureError: '', identity: 'spiffe://cluster.local/ns/shop/sa/default', certState: 'valid', certNotAfterMs: 0 }],
  http: [{ direction: 'outbound', src: { namespace: 'shop', workload: 'client' }, dst: { namespace: 'shop', workload: 'default' }, routeName: '', routeKind: 'default', backend: 'shop/web', tls: 'false', requests, successes: requests, failures: 0, latencyCounts: [requests, 0, 0], latencySumMs: requests / 2 }],
});

describe('agent → controller report stream', { timeout: 60_000 }, () => {
  let dir: string;
  let ctl: ControllerHandle;
  let address: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nm-telemetry-'));
    writeFileSync(path.join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: shop, labels: { nodemesh.io/mesh: enabled } }\n');
    ctl = await runController({ source: new ManifestSource(dir), auth: new TokenFileAuth(new Map([['node-a', 'tok-a']])), grpcHost: '127.0.0.1', grpcPort: 0, adminPort: -1, log: silent });
    address = `127.0.0.1:${ctl.grpcPort}`;
  });

  after(async () => {
    await ctl?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a wrong token is refused; a malformed snapshot is dropped and the stream lives on', async () => {
    const client = new TelemetryServiceClient(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { report(): grpc.ClientDuplexStream<unknown, unknown> };
    const bad = client.report();
    const refused = new Promise<number>((resolve) => bad.on('error', (e: { code: number }) => resolve(e.code)));
    bad.write({ hello: { node: 'node-a', token: 'nope' } });
    assert.equal(await refused, grpc.status.PERMISSION_DENIED);

    const good = client.report();
    good.on('error', () => undefined);
    good.write({ hello: { node: 'node-a', token: 'tok-a' } });
    await until('connected', () => ctl.telemetry.store.connected('node-a'));
    const garbled = snapshot(5, 1000);
    garbled.http[0]!.latencyCounts = [1]; // 1 count for 2 buckets
    good.write({ snapshot: garbled });
    good.write({ snapshot: snapshot(7, 2000) });
    await until('the good snapshot', () => ctl.telemetry.store.latest('node-a') !== undefined);
    assert.equal(ctl.telemetry.store.latest('node-a')?.http[0]?.requests, 7);
    good.end();
    client.close();
    await until('disconnected', () => !ctl.telemetry.store.connected('node-a'));
  });

  test('ReportClient: snapshots become stat rows; a tap goes down and records come back', async () => {
    let n = 0;
    let tapOn: [boolean, number] = [false, 0];
    const queued: Record<string, unknown>[] = [];
    const rc = new ReportClient({
      address, node: 'node-a', token: 'tok-a', log: silent, intervalMs: 100,
      sources: {
        snapshot: async () => snapshot((n += 10), Date.now()),
        view: () => view,
        setTap: (on, max) => { tapOn = [on, max]; },
        takeTap: () => ({ lines: queued.splice(0), dropped: 0 }),
      },
    });
    rc.start();
    try {
      const insight = new Insight(ctl);
      await until('two snapshots', () => (insight.stat(ADMIN, 'service', { windowMs: 60_000 }).rows[0]?.requests ?? 0) >= 10);
      const row = insight.stat(ADMIN, 'service', { windowMs: 60_000 }).rows[0]!;
      assert.deepEqual([row.namespace, row.name, row.successRate], ['shop', 'web', 1]);
      const got: unknown[] = [];
      const t = insight.tap({ namespace: 'shop', workload: '', method: 'GET', pathPrefix: '/a', maxPerSecond: 7 }, (r) => { got.push(r); return true; }, () => undefined);
      await until('the agent taps', () => tapOn[0] && tapOn[1] === 7);
      queued.push(
        { direction: 'outbound', src: '10.200.1.10:1', dst: '10.200.1.11:8080', method: 'GET', authority: 'web', path: '/a/b', status: 200, duration_ms: 1 },
        { direction: 'outbound', src: '10.200.1.10:1', dst: '10.200.1.11:8080', method: 'POST', authority: 'web', path: '/a/b', status: 200, duration_ms: 1 },
        { direction: 'outbound', src: '10.200.1.10:1', dst: '10.200.1.11:8080', method: 'GET', authority: 'web', path: '/z', status: 200, duration_ms: 1 },
      );
      await until('one record', () => got.length === 1);
      await sleep(300);
      assert.equal(got.length, 1);
      assert.equal((got[0] as { path: string }).path, '/a/b');
      t.close();
      await until('the agent stops tapping', () => !tapOn[0]);
    } finally {
      rc.close();
    }
  });
});
