// Where an agent's config comes from: the controller's gRPC stream, or (standalone mode) a local
// manifest directory turned into the same NodeConfig by the controller's own view code. The agent
// applies each update atomically; a throw from apply() means "rejected" (NACK) and changes nothing.

import type { ConfigUpdate } from '../../../controller/src/views/index.js';

export type ApplyFn = (u: ConfigUpdate) => void;

export interface FeedStatus {
  readonly mode: 'controller' | 'manifests';
  readonly connected: boolean;
  readonly version: number;
  readonly lastError?: string;
  readonly detail?: unknown;
}

export interface ConfigFeed {
  /** Starts delivering updates; resolves once a first config was applied or the feed is waiting for one. */
  start(apply: ApplyFn): Promise<void>;
  status(): FeedStatus;
  close(): void;
}
