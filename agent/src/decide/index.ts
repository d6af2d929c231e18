// Public surface of decide/: the pure connection decision and its compiled native table.
export * from './decide.js';
export type * from './table.js';
