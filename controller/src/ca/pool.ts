// Signing off the event loop: N worker threads, each holding the same issuer (the CA's material,
// in memory only), check and sign CSRs; the main thread keeps authentication, the identity check
// and the rate limit. On a rotation the workers get the new material. workers = 0: in process.

import { Worker } from 'node:worker_threads';
import { MeshError, type MeshErrorCode } from '../../../common/errors.js';
import type { IssuedCert, MeshCA } from './authority.js';
import { repoPath } from '../../../common/paths.js';

/** What the CertificateService signs with: a MeshCA itself or a SignPool of copies of it. */
export interface CsrSigner {
  sign(csrPem: string, identity: string): Promise<IssuedCert>;
}

type Reply = { id: number; cert: IssuedCert } | { id: number; error: { code: string; message: string } };

interface Slot { readonly worker: Worker; inflight: number }

export class SignPool implements CsrSigner {
  readonly #slots: Slot[];
  readonly #pending = new Map<number, { resolve: (c: IssuedCert) => void; reject: (e: Error) => void }>();
  #next = 1;
  #closed = false;

  private constructor(slots: Slot[]) {
    this.#slots = slots;
    for (const s of slots) {
      s.worker.on('message', (m: Reply) => this.#onReply(s, m));
      s.worker.on('error', (e) => this.#failAll(new MeshError('MESH_ERR_CA', `a signing worker failed: ${e.message}; restart the controller`)));
      s.worker.unref();
    }
  }

  /** Starts `workers` threads, each loaded with `ca`'s issuer; resolves when all are ready. */
  static async start(ca: MeshCA, workers: number): Promise<SignPool> {
    const init = { material: await ca.material(), options: { trustDomain: ca.trustDomain, certTtlMs: ca.certTtlMs, skewMs: ca.skewMs } };
    const slots = await Promise.all(Array.from({ length: workers }, () => new Promise<Slot>((resolve, reject) => {
      const worker = new Worker(repoPath('dist/controller/src/ca/worker.js'), { workerData: init });
      worker.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve({ worker, inflight: 0 }) : reject(new MeshError('MESH_ERR_CA', `a signing worker could not load the CA: ${m.error ?? '?'}`))));
      worker.once('error', reject);
    })));
    return new SignPool(slots);
  }

  get size(): number {
    return this.#slots.length;
  }

  sign(csrPem: string, identity: string): Promise<IssuedCert> {
    if (this.#closed) return Promise.reject(new MeshError('MESH_ERR_CA', 'the signing pool is closed (the controller is stopping)'));
    const slot = this.#slots.reduce((a, b) => (b.inflight < a.inflight ? b : a));
    const id = this.#next++;
    slot.inflight++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, csrPem, identity });
    });
  }

  /** Loads the CA's current issuer into every worker (after a rotation). */
  async reload(ca: MeshCA): Promise<void> {
    const material = await ca.material();
    for (const s of this.#slots) s.worker.postMessage({ reload: material });
  }

  #onReply(slot: Slot, m: Reply): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    slot.inflight--;
    if ('cert' in m) p.resolve(m.cert);
    else p.reject(new MeshError(m.error.code as MeshErrorCode, m.error.message));
  }

  #failAll(e: Error): void {
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#failAll(new MeshError('MESH_ERR_CA', 'the signing pool closed'));
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
