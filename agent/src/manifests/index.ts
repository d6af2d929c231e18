// Public surface of manifests/: Kubernetes-style YAML in, validated readonly domain objects out.

export * from './types.js';
export { parseManifests, formatProblem, type ParsedObject, type ParseResult } from './parse.js';
export { ManifestSource, type ManifestSnapshot } from './source.js';
