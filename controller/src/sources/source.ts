// The one interface every cluster source implements (a watched manifest directory, the Kubernetes
// API): it produces versioned snapshots of validated domain objects plus the objects it rejected.
// Consumers (the controller's model, the agent's standalone mode) never see YAML or API JSON.

import type { EventEmitter } from 'node:events';
import type { ClusterResources, ManifestProblem } from '../model/index.js';

export interface SourceSnapshot {
  readonly resources: ClusterResources;
  /** objects rejected in the latest read (their last valid version, if any, stays in resources) */
  readonly problems: readonly ManifestProblem[];
  /** increases on every change */
  readonly generation: number;
}

/**
 * A cluster source. `start()` resolves with the first complete snapshot (after the initial list);
 * afterwards 'update' fires with each new snapshot, 'error' with a MeshError that did not stop it
 * (it retries with backoff on its own). `close()` stops every watch.
 */
export interface ClusterSource extends EventEmitter {
  readonly kind: 'manifests' | 'kubernetes';
  start(): Promise<SourceSnapshot>;
  readonly snapshot: SourceSnapshot | undefined;
  close(): void;
}
