// IdentityManager on a fake clock with a CA in the test: renewal at 50 % ± 10 % of the lifetime,
// retries with backoff while the old certificate stays in use, the expiry warning and expiry, one
// certificate per identity however many pods, dropped identities, trust anchor rotation, the
// concurrency limit, and no key ever in status, readiness or logs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { MeshCA } from '../../../controller/src/ca/index.js';
import { IdentityManager, SignError, chainsTo, type CertificateSigner, type SignResult, type IdentitySnapshot } from '../../../agent/src/identity/index.js';
import { FakeClock } from './fake-clock.js';

const TD = 'cluster.local';
const A = `spiffe://${TD}/ns/shop/sa/web`;
const B = `spiffe://${TD}/ns/shop/sa/api`;
const HOUR = 3_600_000;
const T0 = Date.UTC(2030, 0, 1);

class TestSigner implements CertificateSigner {
  calls: string[] = [];
  fail: string | undefined;
  inflight = 0;
  maxInflight = 0;
  gate: Promise<void> | undefined;
  constructor(readonly ca: MeshCA) {}
  async sign(identity: string, csrPem: string): Promise<SignResult> {
    this.calls.push(identity);
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    try {
      if (this.gate) await this.gate;
      if (this.fail) throw new SignError(this.fail, 14, undefined);
      const c = await this.ca.sign(csrPem, identity);
      return { chainPem: c.chainPem, trustAnchorsPem: c.trustAnchorsPem, notAfterMs: c.notAfterMs, serial: c.serial };
    } finally {
      this.inflight--;
    }
  }
  close(): void {}
}

async function setup(o: { random?: number; concurrency?: number } = {}) {
  const clock = new FakeClock(T0);
  const ca = await MeshCA.generate({ trustDomain: TD, certTtlMs: HOUR, skewMs: 0, now: () => clock.now() });
  const signer = new TestSigner(ca);
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { lines.push(s); } });
  const registry = new Registry();
  const im = new IdentityManager({ signer, log, registry, clock, trustDomain: TD, random: () => o.random ?? 0.5, ...(o.concurrency ? { concurrency: o.concurrency } : {}) });
  const snaps: IdentitySnapshot[] = [];
  im.onChange((s) => snaps.push(s));
  return { clock, ca, signer, im, lines, registry, snaps };
}

/** Waits (real time) until the manager's async work produced `f`. */
async function until(what: string, f: () => boolean): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > 5000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

test('first certificate, then renewal at exactly half the lifetime (no jitter drawn)', async () => {
  const { clock, im, signer, snaps } = await setup();
  im.setWanted([A]);
  assert.equal(im.status()[0]!.state, 'pending');
  assert.equal(im.readiness().ready, false);
  await until('cert', () => im.readiness().ready);
  const first = im.status()[0]!;
  assert.equal(first.state, 'valid');
  assert.equal(first.renewAt, new Date(T0 + HOUR / 2).toISOString());
  await clock.advance(HOUR / 2 - 1000);
  await settle();
  assert.equal(signer.calls.length, 1, 'nothing before the renewal time');
  await clock.advance(1000);
  await until('renewed', () => im.status()[0]!.serial !== first.serial);
  assert.equal(signer.calls.length, 2);
  assert.equal(snaps.at(-1)!.identities.length, 1);
  assert.equal(new X509Certificate(snaps.at(-1)!.identities[0]!.chain[0]!).serialNumber.toLowerCase(), im.status()[0]!.serial);
});

test('jitter: renewal between 45 % and 55 % of the lifetime', async () => {
  for (const [random, frac] of [[0, 0.45], [1, 0.55]] as const) {
    const { im } = await setup({ random });
    im.setWanted([A]);
    await until('cert', () => im.readiness().ready);
    assert.equal(Date.parse(im.status()[0]!.renewAt!) - T0, Math.round(HOUR * frac));
  }
});

test('a failed renewal is retried with backoff; the old certificate stays in use; then it recovers', async () => {
  const { clock, im, signer, registry, lines } = await setup();
  im.setWanted([A]);
  await until('cert', () => im.readiness().ready);
  const serial = im.status()[0]!.serial;
  signer.fail = 'controller unreachable';
  await clock.advance(HOUR / 2);
  await until('first failure', () => im.status()[0]!.lastError !== undefined);
  const s = im.status()[0]!;
  assert.equal(s.state, 'renewing');
  assert.equal(s.serial, serial);
  assert.equal(im.snapshot().identities.length, 1, 'the old certificate is still served');
  assert.equal(im.readiness().ready, true);
  assert.match(im.readiness().warnings[0]!, /renewing the certificate of .* failed/);
  // backoff: 1 s, 2 s, 4 s (random 0.5 → no spread)
  for (const wait of [1000, 2000, 4000]) {
    const n = signer.calls.length;
    await clock.advance(wait - 1);
    await settle();
    assert.equal(signer.calls.length, n, `not before ${wait} ms`);
    await clock.advance(1);
    await until(`retry after ${wait} ms`, () => signer.calls.length === n + 1);
    await settle();
  }
  assert.match(await registry.metrics(), /identity_cert_renewals_total\{result="failure"\} 4/);
  assert.ok(lines.some((l) => l.includes('certificate request failed') && l.includes('"level":40')), 'warned');
  signer.fail = undefined;
  await clock.advance(8000);
  await until('recovered', () => im.status()[0]!.serial !== serial && im.status()[0]!.lastError === undefined);
  assert.equal(im.status()[0]!.state, 'valid');
});

test('while the signer is away: warned at 75 % of the life, served until it expires, then not ready', async () => {
  const { clock, im, signer, lines, registry, snaps } = await setup();
  im.setWanted([A]);
  await until('cert', () => im.readiness().ready);
  const notAfter = T0 + HOUR;
  assert.match(await registry.metrics(), new RegExp(`identity_cert_expiration_timestamp_seconds\\{identity="${A}"\\} ${notAfter / 1000}`));
  signer.fail = 'UNAVAILABLE';
  await clock.advance(HOUR * 0.75 + 1000);
  await settle();
  const s = im.status()[0]!;
  assert.equal(s.state, 'expiring');
  assert.ok(lines.some((l) => l.includes('expires soon') && l.includes('"level":40')), 'a warning long before expiry');
  assert.equal(im.readiness().ready, true);
  assert.match(im.readiness().warnings.join(), /expires at/);
  assert.equal(im.snapshot().identities.length, 1);
  await clock.advance(HOUR);
  await settle();
  assert.equal(im.status()[0]!.state, 'expired');
  assert.equal(im.snapshot().identities.length, 0, 'an expired certificate is not served');
  assert.equal(snaps.at(-1)!.identities.length, 0, 'and the proxy was told');
  assert.equal(im.readiness().ready, false);
  assert.match(im.readiness().reasons[0]!, /no valid certificate for .* \(expired; last error: UNAVAILABLE\)/);
  // expired: retried at least every 5 s, however long the backoff had grown
  await clock.advance(5_000);
  await settle();
  const n = signer.calls.length;
  await clock.advance(5_000);
  await until('a retry within 5 s of expiry', () => signer.calls.length > n);
  signer.fail = undefined;
  await clock.advance(5_000);
  await until('a new one', () => im.readiness().ready);
});

test('one certificate per identity however many pods share it; unwanted identities are dropped', async () => {
  const { im, signer, registry, snaps } = await setup();
  im.setWanted([A, A, A, B]);
  await until('two certs', () => im.snapshot().identities.length === 2);
  assert.deepEqual(signer.calls.sort(), [B, A].sort());
  im.setWanted([B, B]);
  assert.deepEqual(im.snapshot().identities.map((i) => i.identity), [B]);
  assert.deepEqual(snaps.at(-1)!.identities.map((i) => i.identity), [B]);
  assert.ok(!(await registry.metrics()).includes(`identity="${A}"`), 'its expiry gauge is gone');
  assert.equal(signer.calls.length, 2);
});

test('snapshot shape for the native proxy; keys never in status, readiness or logs', async () => {
  const { im, lines } = await setup();
  im.setWanted([A]);
  await until('cert', () => im.readiness().ready);
  const s = JSON.parse(JSON.stringify(im.snapshot())) as IdentitySnapshot;
  assert.deepEqual(Object.keys(s), ['trustDomain', 'bundle', 'identities']);
  assert.equal(s.trustDomain, TD);
  assert.equal(s.bundle.length, 1, 'the signer\'s anchors until the mesh settings arrive');
  assert.deepEqual(Object.keys(s.identities[0]!), ['identity', 'chain', 'key']);
  assert.equal(s.identities[0]!.chain.length, 2);
  assert.match(s.identities[0]!.key, /^-----BEGIN PRIVATE KEY-----\n/);
  for (const text of [JSON.stringify(im.status()), JSON.stringify(im.readiness()), lines.join('')]) assert.ok(!text.includes('PRIVATE KEY'));
});

test('anchor rotation: the bundle updates at once; certificates are reissued under the new anchor within the spread, then the old anchor can go', async () => {
  const { im, ca, signer, clock } = await setup();
  const mesh = () => ({ trustDomain: TD, trustAnchors: ca.anchors, defaultInboundPolicy: 'all-unauthenticated' as const });
  im.setMesh(mesh());
  im.setWanted([A, B]);
  await until('certs', () => im.snapshot().identities.length === 2);
  const before = im.status().map((s) => s.serial);
  const oldAnchor = ca.anchors[0]!;
  await ca.rotate();
  im.setMesh(mesh());
  assert.equal(im.snapshot().bundle.length, 2, 'bundle updated immediately');
  await settle();
  assert.equal(signer.calls.length, 2, 'not before the spread (10 s × random 0.5)');
  await clock.advance(4999);
  await settle();
  assert.equal(signer.calls.length, 2);
  await clock.advance(1);
  await until('both reissued', () => im.status().every((s, i) => s.serial !== before[i]));
  assert.equal(signer.calls.length, 4);
  for (const i of im.snapshot().identities) assert.ok(!chainsTo(i.chain, [oldAnchor]) && chainsTo(i.chain, [ca.anchors.at(-1)!]), 'issued under the new anchor');
  ca.removeAnchors();
  im.setMesh(mesh());
  assert.deepEqual(im.snapshot().bundle, ca.anchors);
  await settle();
  assert.equal(signer.calls.length, 4, 'nothing left to reissue once the old anchor goes');
  assert.equal(im.snapshot().identities.length, 2);
});

test('anchor removed before reissue: certificates not under a current anchor renew at once', async () => {
  const { im, ca, signer, clock } = await setup();
  const mesh = () => ({ trustDomain: TD, trustAnchors: ca.anchors, defaultInboundPolicy: 'all-unauthenticated' as const });
  im.setMesh(mesh());
  im.setWanted([A]);
  await until('cert', () => im.snapshot().identities.length === 1);
  const before = im.status()[0]!.serial;
  await ca.rotate();
  ca.removeAnchors();
  im.setMesh(mesh());
  await until('renewed', () => im.status()[0]!.serial !== before);
  assert.equal(signer.calls.length, 2);
  assert.equal(clock.now(), T0, 'renewed right away, not at half-life');
});

test('a notBefore backdated for clock skew does not count as spent life (1-minute certificates)', async () => {
  const clock = new FakeClock(T0);
  const ca = await MeshCA.generate({ trustDomain: TD, certTtlMs: 60_000, skewMs: 5 * 60_000, now: () => clock.now() });
  const signer = new TestSigner(ca);
  const im = new IdentityManager({ signer, log: pino({ level: 'silent' }), clock, trustDomain: TD, random: () => 0.5 });
  im.setWanted([A]);
  await until('cert', () => im.readiness().ready);
  const s = im.status()[0]!;
  assert.equal(s.state, 'valid', 'not "expiring" on arrival');
  assert.equal(Date.parse(s.notBefore!), T0 - 5 * 60_000);
  assert.equal(Date.parse(s.renewAt!), T0 + 30_000, 'half of the remaining minute');
  await clock.advance(29_000);
  await settle();
  assert.equal(signer.calls.length, 1, 'no renewal loop');
  im.close();
});

test('retryNow: once the controller is back, a failed request is retried at once, not after its backoff', async () => {
  const { clock, im, signer } = await setup();
  im.setWanted([A]);
  await until('cert', () => im.readiness().ready);
  signer.fail = 'controller unreachable';
  await clock.advance(HOUR / 2);
  await until('failure', () => im.status()[0]!.lastError !== undefined);
  const n = signer.calls.length;
  im.retryNow();
  await until('retried (failing again)', () => signer.calls.length === n + 1);
  signer.fail = undefined;
  await settle();
  im.retryNow();
  await until('renewed', () => im.status()[0]!.lastError === undefined && im.status()[0]!.state === 'valid');
  assert.equal(signer.calls.length, n + 2, 'no waiting for the backoff');
  im.retryNow();
  await settle();
  assert.equal(signer.calls.length, n + 2, 'nothing to retry when nothing failed');
});

test('at most `concurrency` CSRs in flight at once', async () => {
  const { im, signer } = await setup({ concurrency: 3 });
  let open!: () => void;
  signer.gate = new Promise((r) => { open = r; });
  const ids = Array.from({ length: 10 }, (_, i) => `spiffe://${TD}/ns/n${i}/sa/s`);
  im.setWanted(ids);
  await until('3 in flight', () => signer.inflight === 3);
  await settle();
  assert.equal(signer.calls.length, 3);
  open();
  await until('all certs', () => im.snapshot().identities.length === 10);
  assert.equal(signer.maxInflight, 3);
});
