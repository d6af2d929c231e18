// Certificate lifecycle on a real kernel, with 1-minute certificates: renewal and a trust-anchor
// rotation (add the new anchor, reissue, remove the old) under continuous traffic fail no
// connection, and an agent whose controller is gone serves until its certificates expire, then fails
// cross-node traffic closed (never plaintext) and recovers when the controller is back.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { SimCluster } from '../../sim/index.js';
import { TCP_TOOL, manifestDir, rootGate, sleep, waitFor } from './helpers.js';

const skip = rootGate();
const CLIENT_ID = 'spiffe://cluster.local/ns/life/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/life/sa/server';

interface IdStatus { identity: string; state: string; serial?: string; notAfter?: string; anchor?: string | null }

describe('certificate lifecycle under traffic', { skip, timeout: 600_000 }, () => {
  let c: SimCluster;
  let dir: string;
  const ip = (key: string): string => c.pod(key).ip;
  const dump = async (node: string): Promise<any> => JSON.parse((await c.agentGet(node, '/config_dump')).body);
  async function held(node: string, identity: string): Promise<IdStatus | undefined> {
    return ((await dump(node)).identities as IdStatus[]).find((i) => i.identity === identity);
  }
  /** Both workloads' certificates: the client's on node-a, the server's on node-b. */
  const both = async (): Promise<IdStatus[]> => [(await held('node-a', CLIENT_ID))!, (await held('node-b', SERVER_ID))!];
  async function tool(from: string, ...args: string[]): Promise<any> {
    const r = await c.exec(from, [process.execPath, TCP_TOOL, ...args], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, `tcp-tool ${args.join(' ')} from ${from}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  }
  /** New connections (one per ~20 ms) and one long-lived connection, both for `ms`. */
  const traffic = (ms: number): Promise<[any, any]> => Promise.all([
    tool('life/client', 'loop', ip('life/server'), '9000', String(ms)),
    tool('life/client', 'hold', ip('life/server'), '9000', String(ms)),
  ]);
  const anchorsOnDisk = (): string[] => readFileSync(path.join(c.caDir, 'ca.crt'), 'utf8').split(/(?<=-----END CERTIFICATE-----)\s*/).filter((p) => p.includes('BEGIN')).map((p) => new X509Certificate(p).fingerprint256);

  before(async () => {
    dir = manifestDir('identity-lifecycle.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true, controllerArgs: ['--cert-ttl', '1m'] });
    await waitFor('both certificates valid', async () => (await both()).every((s) => s?.state === 'valid'), 20_000, 100);
  });

  after(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  test('renewal at half-life under continuous traffic: 0 failed connections, the long-lived one survives', async () => {
    const first = await both();
    const life = Date.parse(first[0]!.notAfter!) - Date.now();
    assert.ok(life > 20_000 && life <= 61_000, `a 1-minute certificate (${life} ms left)`);
    const opened0 = (await dump('node-a')).proxy.tunnelConnectionsOpened as number;
    const run = traffic(45_000);
    await waitFor('both certificates renewed', async () => (await both()).every((s, i) => s.serial !== first[i]!.serial), 44_000, 500);
    const [loop, hold] = await run;
    assert.equal(loop.failed, 0, JSON.stringify(loop));
    assert.ok(loop.succeeded > 200, `continuous: ${loop.succeeded} connections`);
    assert.ok(hold.ok, JSON.stringify(hold));
    assert.ok(hold.rounds > 300, `the long-lived connection kept echoing (${hold.rounds} rounds)`);
    const opened = (await dump('node-a')).proxy.tunnelConnectionsOpened as number;
    assert.ok(opened > opened0, `a renewed certificate opens a new HBONE connection (${opened0} → ${opened})`);
  });

  test('trust-anchor rotation (add, reissue, remove) under continuous traffic: 0 failed connections', async () => {
    const oldAnchors = anchorsOnDisk();
    assert.equal(oldAnchors.length, 1);
    const before = await both();
    const run = traffic(25_000);
    await sleep(1000);
    const r = await c.controllerPost('/ca/rotate');
    assert.equal(r.status, 200, r.body);
    const added = anchorsOnDisk();
    assert.equal(added.length, 2, 'the new anchor is saved beside the old one');
    const fresh = added.find((f) => !oldAnchors.includes(f))!;
    await waitFor('both nodes hold the two-anchor bundle', async () => {
      for (const n of ['node-a', 'node-b']) if ((await dump(n)).trustBundle.length !== 2) return false;
      return true;
    }, 5000, 100);
    await waitFor('both certificates reissued under the new anchor', async () =>
      (await both()).every((s, i) => s.serial !== before[i]!.serial && s.anchor === fresh), 15_000, 200);
    const rm = await c.controllerPost('/ca/remove-old-anchors');
    assert.equal(rm.status, 200, rm.body);
    assert.deepEqual(JSON.parse(rm.body).removed, oldAnchors);
    assert.deepEqual(anchorsOnDisk(), [fresh]);
    await waitFor('both nodes trust only the new anchor', async () => {
      for (const n of ['node-a', 'node-b']) {
        const b = (await dump(n)).trustBundle as { fingerprint256: string }[];
        if (b.length !== 1 || b[0]!.fingerprint256 !== fresh) return false;
      }
      return true;
    }, 5000, 100);
    const [loop, hold] = await run;
    assert.equal(loop.failed, 0, JSON.stringify(loop));
    assert.ok(loop.succeeded > 100, `continuous: ${loop.succeeded} connections`);
    assert.ok(hold.ok, JSON.stringify(hold));
    // after the rotation every new connection still works (handshakes under the new anchor only)
    const after = await tool('life/client', 'loop', ip('life/server'), '9000', '500');
    assert.ok(after.succeeded > 0 && after.failed === 0, JSON.stringify(after));
  });

  test('controller gone: traffic flows until the certificates expire, then fails closed; back when the controller is', async () => {
    await c.stopController();
    const ids = await both();
    const expiry = Math.min(...ids.map((s) => Date.parse(s.notAfter!)));
    const serve = expiry - Date.now() - 2000;
    assert.ok(serve > 5000, `${serve} ms of life left to test`);
    const [loop] = await traffic(serve);
    assert.equal(loop.failed, 0, `served until expiry: ${JSON.stringify(loop)}`);
    assert.ok(loop.succeeded > 50);
    const ready = await c.agentGet('node-a', '/ready');
    assert.match(ready.body, /expires at .* and is not renewed yet|renewing the certificate of .* failed/, 'the agent warned before expiry');
    await sleep(Math.max(0, expiry - Date.now()) + 1500);
    const dead = await tool('life/client', 'probe', ip('life/server'), '9000', 'after-expiry', '3000');
    assert.equal(dead.ok, false, `an expired certificate fails cross-node traffic closed: ${JSON.stringify(dead)}`);
    const last = Math.max(...ids.map((s) => Date.parse(s.notAfter!)));
    await sleep(Math.max(0, last - Date.now()) + 1500);
    assert.deepEqual((await both()).map((s) => s.state), ['expired', 'expired']);
    assert.match((await c.agentGet('node-a', '/ready')).body, new RegExp(`no valid certificate for ${CLIENT_ID.replace(/\//g, '\\/')} \\(expired`));
    assert.match(readFileSync(c.node('node-a').agentLog, 'utf8'), /MESH_ERR_NO_CERTIFICATE|MESH_ERR_CERT/);
    await c.startController();
    await waitFor('cross-node again once the controller is back', async () => {
      const y = await tool('life/client', 'loop', ip('life/server'), '9000', '300');
      return y.succeeded > 0 && y.failed === 0;
    }, 30_000, 250);
  });
});
