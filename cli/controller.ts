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
  }, usage);
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  if (!str('manifests') && !str('kubeconfig')) throw new MeshError('MESH_ERR_USAGE', `give --manifests DIR or --kubeconfig FILE\nusage: ${usage}`);
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
    const source = kubeconfig ? new KubeSource({ kubeconfig }) : new ManifestSource(str('manifests')!);
    const handle = await runController({
      source,
      // node credentials: a token file (simulated cluster), else TokenReview against the API server
      ...(str('node-tokens') ? { nodeTokensFile: str('node-tokens')! } : kubeconfig ? { auth: new TokenReviewAuth({ kubeconfig }) } : {}),
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
