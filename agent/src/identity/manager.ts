// The agent's workload certificates: one per identity its enrolled pods run as, obtained through a
// CertificateSigner, renewed at half its life (±10 % jitter), retried with backoff on failure while
// the old certificate stays in use until it actually expires; a new trust anchor (CA rotation) has
// every certificate not issued under it reissued within a short spread. Emits the snapshot the native
// proxy parses (the only place keys appear), a key-free status() and readiness() for operators.

import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { MeshCfg } from '../../../controller/src/views/index.js';
import { anchorOf, chainsTo, obtainCert, type HeldCert } from './certs.js';
import { realClock, type Clock } from './clock.js';
import { IdentityMetrics } from './metrics.js';
import type { CertificateSigner } from './signer.js';

/** Exactly the JSON the native proxy parses. */
export interface IdentitySnapshot {
  readonly trustDomain: string;
  readonly bundle: readonly string[];
  readonly identities: readonly { readonly identity: string; readonly chain: readonly string[]; readonly key: string }[];
}

export type CertState = 'pending' | 'valid' | 'renewing' | 'expiring' | 'expired';

export interface IdentityStatus {
  readonly identity: string;
  readonly state: CertState;
  readonly serial?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
  /** when the next renewal (or retry) is due */
  readonly renewAt?: string;
  /** SHA-256 fingerprint of the bundle anchor the chain leads to (null: none in the bundle) */
  readonly anchor?: string | null;
  readonly lastError?: string;
}

export interface IdentityManagerOptions {
  readonly signer: CertificateSigner;
  readonly log: Logger;
  /** metrics go here (the agent's registry); omitted: none */
  readonly registry?: Registry;
  /** until setMesh() is called */
  readonly trustDomain?: string;
  readonly clock?: Clock;
  /** [0, 1), for the renewal jitter and retry spread */
  readonly random?: () => number;
  /** renew at this fraction of the lifetime, default 0.5, spread by ±jitter (default 0.1) */
  readonly renewAt?: number;
  readonly jitter?: number;
  /** "expiring" (and warned about) once less than this fraction of the lifetime is left, default 0.25 */
  readonly warnFraction?: number;
  /** retry backoff after a failure, default 1 s doubling to 60 s */
  readonly retryMs?: { readonly min: number; readonly max: number };
  /** CSRs in flight at once, default 8 (a node with many pods stays under the CA's rate limit) */
  readonly concurrency?: number;
  /** a new trust anchor: reissue within this spread (default 10 s, at most 5 % of the lifetime) */
  readonly rotationSpreadMs?: number;
}

interface Entry {
  readonly identity: string;
  cert: HeldCert | undefined;
  /** start of the certificate's usable life: notBefore, or when it arrived if notBefore was
   *  backdated for clock skew (else a short lifetime would look half-spent on arrival) */
  startMs: number;
  /** the time the next renewal or retry is due */
  dueAt: number;
  inflight: boolean;
  queued: boolean;
  failures: number;
  lastError: string | undefined;
  /** serial of the certificate already warned about (expiring) / announced as expired */
  warned: string | undefined;
  expired: string | undefined;
  timer: unknown;
}

export class IdentityManager {
  readonly #o: IdentityManagerOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #metrics: IdentityMetrics | undefined;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners: ((s: IdentitySnapshot) => void)[] = [];
  readonly #queue: Entry[] = [];
  #mesh: MeshCfg | undefined;
  /** anchors from the latest signer answer, used while no mesh settings arrived */
  #signerAnchors: readonly string[] = [];
  #inflight = 0;
  #closed = false;

  constructor(o: IdentityManagerOptions) {
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#random = o.random ?? Math.random;
    this.#metrics = o.registry ? new IdentityMetrics(o.registry) : undefined;
  }

  /** The identities wanted now (this node's enrolled pods' SPIFFE IDs; duplicates count once). */
  setWanted(ids: readonly string[]): void {
    if (this.#closed) return;
    const want = new Set(ids);
    let changed = false;
    for (const [id, e] of this.#entries) {
      if (want.has(id)) continue;
      this.#clock.clearTimeout(e.timer);
      this.#entries.delete(id);
      this.#metrics?.expiry.remove({ identity: id });
      if (e.cert) changed = true;
      this.#o.log.info({ identity: id }, 'identity no longer wanted; its certificate is dropped');
    }
    for (const id of want) {
      if (this.#entries.has(id)) continue;
      const e: Entry = { identity: id, cert: undefined, startMs: 0, dueAt: this.#clock.now(), inflight: false, queued: false, failures: 0, lastError: undefined, warned: undefined, expired: undefined, timer: undefined };
      this.#entries.set(id, e);
      this.#enqueue(e);
    }
    if (changed) this.#emit();
  }

  /** The mesh settings from the config: trust domain and bundle. An anchor change takes effect now. */
  setMesh(mesh: MeshCfg | undefined): void {
    const key = (): string => JSON.stringify([this.#mesh?.trustDomain, this.#bundle()]);
    const before = key();
    const beforeAnchors = this.#bundle();
    this.#mesh = mesh;
    const after = this.#bundle();
    if (key() === before) return;
    const added = after.filter((a) => !beforeAnchors.includes(a));
    this.#o.log.info({ anchors: after.length, added: added.length }, 'trust bundle changed');
    const now = this.#clock.now();
    for (const e of this.#entries.values()) {
      if (!e.cert || after.length === 0) continue;
      if (!chainsTo(e.cert.chainPem, after)) {
        this.#o.log.info({ identity: e.identity, serial: e.cert.serial }, 'certificate not issued under a current trust anchor; renewing now');
        e.dueAt = now;
        e.failures = 0;
        this.#enqueue(e);
      } else if (beforeAnchors.length > 0 && added.length > 0 && !chainsTo(e.cert.chainPem, added)) {
        // rotation step 1: a new anchor (and, with it, a new issuer): reissue under it, spread so a
        // node's identities do not all hit the CA at once, so that the old anchor can be removed
        const spread = Math.min(this.#o.rotationSpreadMs ?? 10_000, (e.cert.notAfterMs - e.startMs) * 0.05);
        e.dueAt = Math.min(e.dueAt, now + spread * this.#random());
        e.failures = 0;
        this.#o.log.info({ identity: e.identity, serial: e.cert.serial, renewAt: new Date(e.dueAt).toISOString() }, 'a new trust anchor: reissuing this certificate under it');
        this.#schedule(e);
      }
    }
    this.#emit();
  }

  /** The controller is reachable again (a full config arrived): retry failed requests now rather
   *  than at the end of their backoff, so expired certificates come back within a round trip. */
  retryNow(): void {
    if (this.#closed) return;
    for (const e of this.#entries.values()) {
      if (e.failures === 0 || e.inflight || e.queued) continue;
      e.dueAt = this.#clock.now();
      this.#enqueue(e);
    }
  }

  onChange(f: (s: IdentitySnapshot) => void): () => void {
    this.#listeners.push(f);
    return () => { const i = this.#listeners.indexOf(f); if (i >= 0) this.#listeners.splice(i, 1); };
  }

  #bundle(): readonly string[] {
    return this.#mesh?.trustAnchors ?? this.#signerAnchors;
  }

  /** What the native proxy loads: the bundle and every unexpired certificate with its key. */
  snapshot(): IdentitySnapshot {
    const now = this.#clock.now();
    const identities = [...this.#entries.values()]
      .filter((e) => e.cert && e.cert.notAfterMs > now)
      .sort((a, b) => (a.identity < b.identity ? -1 : 1))
      .map((e) => ({ identity: e.identity, chain: [...e.cert!.chainPem], key: e.cert!.keyPem }));
    return { trustDomain: this.#mesh?.trustDomain ?? this.#o.trustDomain ?? '', bundle: [...this.#bundle()], identities };
  }

  #state(e: Entry, now: number): CertState {
    const c = e.cert;
    if (!c) return 'pending';
    if (now >= c.notAfterMs) return 'expired';
    if (c.notAfterMs - now < (c.notAfterMs - e.startMs) * (this.#o.warnFraction ?? 0.25)) return 'expiring';
    if (e.inflight || e.queued || e.failures > 0 || now >= e.dueAt) return 'renewing';
    return 'valid';
  }

  /** State and expiry of each identity, cheaply (no chain verification): the 5 s report's share. */
  states(): IdentityStatus[] {
    const now = this.#clock.now();
    return [...this.#entries.values()].map((e) => ({ identity: e.identity, state: this.#state(e, now), ...(e.cert ? { notAfter: new Date(e.cert.notAfterMs).toISOString() } : {}) }));
  }

  /** For /config_dump and `nodemesh identity show`: never a key. */
  status(): IdentityStatus[] {
    const now = this.#clock.now();
    const bundle = this.#bundle();
    return [...this.#entries.values()].sort((a, b) => (a.identity < b.identity ? -1 : 1)).map((e) => ({
      identity: e.identity,
      state: this.#state(e, now),
      ...(e.cert ? { serial: e.cert.serial, notBefore: new Date(e.cert.notBeforeMs).toISOString(), notAfter: new Date(e.cert.notAfterMs).toISOString() } : {}),
      ...(e.cert ? { anchor: anchorOf(e.cert.chainPem, bundle) } : {}),
      ...(e.cert || e.failures > 0 ? { renewAt: new Date(e.dueAt).toISOString() } : {}),
      ...(e.lastError ? { lastError: e.lastError } : {}),
    }));
  }

  /** Not ready while a wanted identity has no valid certificate; warnings for expiring or failing ones. */
  readiness(): { ready: boolean; reasons: string[]; warnings: string[] } {
    const reasons: string[] = [];
    const warnings: string[] = [];
    for (const s of this.status()) {
      const err = s.lastError ? `; last error: ${s.lastError}` : '';
      if (s.state === 'pending' || s.state === 'expired') reasons.push(`no valid certificate for ${s.identity} (${s.state}${err})`);
      else if (s.state === 'expiring') warnings.push(`the certificate of ${s.identity} expires at ${s.notAfter} and is not renewed yet${err}`);
      else if (s.lastError) warnings.push(`renewing the certificate of ${s.identity} failed${err}`);
    }
    return { ready: reasons.length === 0, reasons, warnings };
  }

  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) this.#clock.clearTimeout(e.timer);
    this.#entries.clear();
    this.#queue.length = 0;
  }

  #emit(): void {
    if (this.#listeners.length === 0) return;
    const s = this.snapshot();
    for (const f of this.#listeners) {
      try { f(s); } catch (e) { this.#o.log.error({ code: 'MESH_ERR_CERT' }, `identity snapshot listener failed: ${(e as Error).message}`); }
    }
  }

  #enqueue(e: Entry): void {
    this.#clock.clearTimeout(e.timer);
    e.timer = undefined;
    if (e.inflight || e.queued) return;
    e.queued = true;
    this.#queue.push(e);
    this.#pump();
  }

  #pump(): void {
    const max = this.#o.concurrency ?? 8;
    while (this.#inflight < max && this.#queue.length > 0) {
      const e = this.#queue.shift()!;
      e.queued = false;
      if (this.#entries.get(e.identity) !== e) continue;
      void this.#renew(e);
    }
  }

  async #renew(e: Entry): Promise<void> {
    e.inflight = true;
    this.#inflight++;
    let got: HeldCert | undefined;
    let err: Error | undefined;
    try {
      got = await obtainCert(this.#o.signer, e.identity);
    } catch (x) {
      err = x as Error;
    } finally {
      e.inflight = false;
      this.#inflight--;
    }
    this.#pump();
    if (this.#closed || this.#entries.get(e.identity) !== e) return;
    if (got) this.#accept(e, got);
    else this.#fail(e, err!);
  }

  #accept(e: Entry, c: HeldCert): void {
    const start = Math.max(c.notBeforeMs, Math.min(this.#clock.now(), c.notAfterMs));
    const life = c.notAfterMs - start;
    const jitter = this.#o.jitter ?? 0.1;
    const frac = (this.#o.renewAt ?? 0.5) * (1 + jitter * (2 * this.#random() - 1));
    e.cert = c;
    e.startMs = start;
    e.failures = 0;
    e.lastError = undefined;
    e.warned = undefined;
    e.dueAt = start + life * frac;
    if (c.anchorsPem.length > 0) this.#signerAnchors = c.anchorsPem;
    this.#metrics?.renewals.inc({ result: 'success' });
    this.#metrics?.expiry.set({ identity: e.identity }, c.notAfterMs / 1000);
    this.#o.log.info({ identity: e.identity, serial: c.serial, notAfter: new Date(c.notAfterMs).toISOString(), renewAt: new Date(e.dueAt).toISOString() }, 'workload certificate obtained');
    // issued under an anchor not in our bundle yet: a rotation whose bundle update is on its way
    const bundle = this.#bundle();
    if (bundle.length > 0 && !chainsTo(c.chainPem, bundle)) this.#o.log.info({ identity: e.identity, serial: c.serial }, 'the new certificate chains to an anchor not in the bundle yet (a rotation in progress)');
    this.#schedule(e);
    this.#emit();
  }

  #backoff(failures: number): number {
    const { min, max } = this.#o.retryMs ?? { min: 1000, max: 60_000 };
    const base = Math.min(max, min * 2 ** Math.min(failures - 1, 20));
    return base * (0.8 + 0.4 * this.#random());
  }

  #fail(e: Entry, err: Error): void {
    e.failures++;
    const msg = err.message;
    const repeat = e.lastError === msg;
    e.lastError = msg;
    this.#metrics?.renewals.inc({ result: 'failure' });
    const now = this.#clock.now();
    // a valid certificate: one last try a second before it expires, then at its expiry; without a
    // usable certificate the workload's cross-node traffic is down, so retry at least every 5 s
    const notAfter = e.cert && e.cert.notAfterMs > now ? e.cert.notAfterMs : undefined;
    const cap = notAfter !== undefined ? (notAfter - 1000 > now ? notAfter - 1000 : notAfter) : now + 5_000;
    e.dueAt = Math.min(now + this.#backoff(e.failures), cap);
    if (!repeat || e.failures % 10 === 0) {
      this.#o.log.warn({ code: (err as { code?: string }).code ?? 'MESH_ERR_CERT', identity: e.identity, failures: e.failures, retryInMs: Math.round(e.dueAt - now), keeps: e.cert?.serial ?? null }, `certificate request failed: ${msg}`);
    }
    this.#maybeWarn(e, now);
    this.#schedule(e);
  }

  /** Warns once per certificate when it enters the last `warnFraction` of its life unrenewed, and
   *  tells the proxy (a new snapshot) once it has expired. */
  #maybeWarn(e: Entry, now: number): void {
    const c = e.cert;
    if (c && now >= c.notAfterMs && e.expired !== c.serial) {
      e.expired = c.serial;
      this.#o.log.error({ code: 'MESH_ERR_CERT', identity: e.identity, serial: c.serial }, `the certificate of ${e.identity} expired and no renewal succeeded${e.lastError ? ` (last error: ${e.lastError})` : ''}; its pods cannot use mTLS until the controller answers`);
      this.#emit();
      return;
    }
    if (!c || e.warned === c.serial || this.#state(e, now) !== 'expiring') return;
    e.warned = c.serial;
    this.#o.log.warn({ code: 'MESH_ERR_CERT', identity: e.identity, serial: c.serial, notAfter: new Date(c.notAfterMs).toISOString(), lastError: e.lastError ?? null }, `the certificate of ${e.identity} expires soon and has not been renewed; it stays in use until then`);
  }

  /** Arms the entry's one timer for its next event: renewal/retry, the expiring warning, expiry. */
  #schedule(e: Entry): void {
    this.#clock.clearTimeout(e.timer);
    e.timer = undefined;
    if (this.#closed) return;
    const now = this.#clock.now();
    const c = e.cert;
    const times = [e.dueAt];
    if (c) {
      const warnAt = c.notAfterMs - (c.notAfterMs - e.startMs) * (this.#o.warnFraction ?? 0.25);
      if (e.warned !== c.serial) times.push(warnAt);
      if (c.notAfterMs > now) times.push(c.notAfterMs);
    }
    const next = Math.min(...times);
    e.timer = this.#clock.setTimeout(() => this.#wake(e), Math.max(0, next - now));
  }

  #wake(e: Entry): void {
    e.timer = undefined;
    if (this.#closed || this.#entries.get(e.identity) !== e) return;
    const now = this.#clock.now();
    this.#maybeWarn(e, now);
    if (now >= e.dueAt) this.#enqueue(e);
    else this.#schedule(e);
  }
}
