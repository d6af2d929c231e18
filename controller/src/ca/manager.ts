// The CA as the controller runs it: the MeshCA, the store it persists to, and the operations an
// operator or a test performs on it (rotate, remove old anchors). Every change is saved first and
// then announced, so the controller streams the new trust bundle to every agent.

import type { MeshCA, CaInfo } from './authority.js';
import type { CaMetrics } from './metrics.js';
import type { CaStore } from './store.js';

export type CaChangeListener = (ca: MeshCA) => void;

export class CaManager {
  readonly #ca: MeshCA;
  readonly #store: CaStore | undefined;
  readonly #listeners: CaChangeListener[] = [];
  #metrics: CaMetrics | undefined;
  /** serialises rotations: two at once would both save */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(ca: MeshCA, store?: CaStore) {
    this.#ca = ca;
    this.#store = store;
  }

  get ca(): MeshCA {
    return this.#ca;
  }

  get anchors(): readonly string[] {
    return this.#ca.anchors;
  }

  info(): CaInfo & { store: string } {
    return { ...this.#ca.info(), store: this.#store?.where ?? 'memory' };
  }

  /** Keeps the CA gauges of `m` up to date. */
  useMetrics(m: CaMetrics): void {
    this.#metrics = m;
    this.#refreshMetrics();
  }

  onChange(f: CaChangeListener): void {
    this.#listeners.push(f);
  }

  /** Rotation step 1: a new anchor (old ones kept) and a new issuer under it. */
  rotate(): Promise<CaInfo> {
    return this.#serial(async () => {
      await this.#ca.rotate();
      await this.#commit();
      return this.#ca.info();
    });
  }

  /** Rotation step 2: drops old anchors (all not signing the current issuer, or those given). */
  removeAnchors(fingerprints?: readonly string[]): Promise<string[]> {
    return this.#serial(async () => {
      const removed = this.#ca.removeAnchors(fingerprints);
      if (removed.length > 0) await this.#commit();
      return removed;
    });
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(f, f);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #commit(): Promise<void> {
    if (this.#store) await this.#store.save(await this.#ca.material());
    this.#refreshMetrics();
    for (const f of this.#listeners) f(this.#ca);
  }

  #refreshMetrics(): void {
    this.#metrics?.anchors.set(this.#ca.anchors.length);
    this.#metrics?.issuerExpiry.set(this.#ca.issuerNotAfterMs / 1000);
  }
}
