// Public surface of sources/: where cluster state comes from (manifest directory, Kubernetes API).
export type { ClusterSource, SourceSnapshot } from './source.js';
export { ManifestSource, buildResources, type ManifestSnapshot } from './manifests.js';
export { KubeSource, KubeClient, servedTypes, type KubeConnectOptions, type KubeSourceOptions, type KubeSourceStats, type KubeType } from './kube/index.js';
