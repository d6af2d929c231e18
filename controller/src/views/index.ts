// Public surface of views/: the config resources, the versioned model and per-node views/deltas.
export type * from './types.js';
export { RESOURCE_TYPES, DEFAULT_INBOUND_POLICIES, MESH_KEY } from './types.js';
export { ConfigModel, applyUpdate, emptyConfig, nodeConfigFrom, type ModelDelta } from './model.js';
export { deriveResources, enrollment } from './derive.js';
