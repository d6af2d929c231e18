// Public surface of sources/kube/: the Kubernetes API source (list + watch of every served type,
// validated through the model like the manifest source) and the type table it serves.
export { KubeSource, type KubeSourceOptions, type KubeSourceStats, type KubeTypeStats } from './source.js';
export { KubeApiError, KubeClient, clientNode, loadKubeConfig, type KubeConnectOptions } from './client.js';
export { BUILTIN_TYPES, crdTypes, servedTypes, apiVersionOf, listPath, resourceName, type KubeType } from './types.js';
export type { ReflectorState } from './reflector.js';
