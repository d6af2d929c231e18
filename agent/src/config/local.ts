// Standalone mode: the agent reads a manifest directory itself and computes its NodeConfig with
// the controller's own model code, so both modes run exactly the same view logic. The mesh
// settings come from a local CA (identity/LocalSigner.meshConfig()), so certificates still work.

import { ManifestSource, type SourceSnapshot } from '../../../controller/src/sources/index.js';
import { ConfigModel, type MeshCfg } from '../../../controller/src/views/index.js';
import { formatProblem } from '../../../controller/src/model/index.js';
import type { ApplyFn, ConfigFeed, FeedStatus } from './feed.js';
import type { Logger } from '../telemetry/index.js';

export class LocalFeed implements ConfigFeed {
  readonly #source: ManifestSource;
  readonly #model: ConfigModel;
  readonly #node: string;
  readonly #log: Logger;
  #lastError: string | undefined;
  #snapshot: SourceSnapshot | undefined;

  constructor(dir: string, node: string, log: Logger, trustDomain = 'cluster.local', mesh?: MeshCfg) {
    this.#source = new ManifestSource(dir);
    this.#model = new ConfigModel(trustDomain, mesh);
    this.#node = node;
    this.#log = log;
  }

  get problems(): string[] {
    return this.#snapshot?.problems.map(formatProblem) ?? [];
  }

  async start(apply: ApplyFn): Promise<void> {
    const onSnapshot = (s: SourceSnapshot): void => {
      this.#snapshot = s;
      for (const p of s.problems) this.#log.warn({ code: 'MESH_ERR_MANIFEST' }, `manifest rejected: ${formatProblem(p)}`);
      if (!this.#model.update(s.resources) && this.#model.version > 0) return;
      try {
        apply(this.#model.fullUpdate(this.#node));
        this.#lastError = undefined;
      } catch (e) {
        this.#lastError = (e as Error).message;
        this.#log.error({ code: (e as { code?: string }).code }, `config rejected, previous one stays: ${this.#lastError}`);
      }
    };
    this.#source.on('update', onSnapshot);
    this.#source.on('error', (e: Error) => this.#log.error({ code: (e as { code?: string }).code ?? 'MESH_ERR_CONFIG' }, e.message));
    onSnapshot(await this.#source.start());
  }

  status(): FeedStatus {
    return { mode: 'manifests', connected: true, version: this.#model.version, ...(this.#lastError ? { lastError: this.#lastError } : {}), detail: { dir: this.#source.dir, generation: this.#snapshot?.generation ?? 0, rejected: this.problems } };
  }

  close(): void {
    this.#source.close();
  }
}
