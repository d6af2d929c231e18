// Public surface of state/: the per-node view derived from cluster resources.
export * from './view.js';
