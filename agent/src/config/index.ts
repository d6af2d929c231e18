// Public surface of config/: the agent's config feeds (controller stream, local manifests).
export type { ConfigFeed, ApplyFn, FeedStatus } from './feed.js';
export { LocalFeed } from './local.js';
export { ControllerFeed, type ControllerFeedOptions } from './client.js';
