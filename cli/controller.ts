// `nodemesh controller`: runs the controller until SIGTERM/SIGINT. The source is a manifest
// directory (the embedded default) or the Kubernetes API (a kubeconfig, or in-cluster config).

import { MeshError } from '../common/errors.js';
import { intFlag, parseFlags } from './args.js';
import { usageOf } from './commands.js';

export async function controllerRun(argv: string[]): Promise<number> {
  const usage = usageOf(['controller']);
  const { values } = parseFlags(argv, {
    manifests: { type: 'string' },
    kubeconfig: { type: 'string' },
    'node-tokens': { type: 'string' },
    'grpc-port': { type: 'string' },
    'admin-port': { type: 'string' },
    'admin-socket': { type: 'string' },
    'trust-domain': { type: 'string' },
    'in-cluster': { type: 'boolean' },
    'token-audience': { type: 'string' },
  }, usage);
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const inCluster = values['in-cluster'] === true;
  if (!str('manifests') && !str('kubeconfig') && !inCluster) throw new MeshError('MESH_ERR_USAGE', `give --manifests DIR, --kubeconfig FILE or --in-cluster\nusage: ${usage}`);
  const grpcPort = intFlag(values, 'grpc-port', usage, { min: 0, max: 65535 });
  const adminPort = intFlag(values, 'admin-port', usage, { min: 0, max: 65535 });
  let signalled = false;
  let wake: (() => void) | undefined;
  const onSignal = (): void => { signalled = true; wake?.(); };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const { runController, TokenReviewAuth } = await import('../controller/src/index.js');
    const { KubeSource, ManifestSource } = await import('../controller/src/sources/index.js');
    const kubeconfig = str('kubeconfig');
    // in-cluster: client-node's default loader reads the pod's ServiceAccount credentials
    const kube = kubeconfig ? { kubeconfig } : inCluster ? {} : undefined;
    const source = kube ? new KubeSource(kube) : new ManifestSource(str('manifests')!);
    const audience = str('token-audience');
    const handle = await runController({
      source,
      // node credentials: a token file (simulated cluster), else TokenReview against the API server
      ...(str('node-tokens') ? { nodeTokensFile: str('node-tokens')! } : kube ? { auth: new TokenReviewAuth({ ...kube, ...(audience ? { audiences: [audience] } : {}) }) } : {}),
      ...(grpcPort !== undefined ? { grpcPort } : {}),
      ...(adminPort !== undefined ? { adminPort } : {}),
      ...(str('admin-socket') ? { adminSocket: str('admin-socket')! } : {}),
      ...(str('trust-domain') ? { trustDomain: str('trust-domain')! } : {}),
    });
    if (!signalled) await new Promise<void>((resolve) => { wake = resolve; });
    await handle.stop();
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
