// `nodemesh controller`: runs the controller until SIGTERM/SIGINT. The source is a manifest
// directory (the embedded default) or the Kubernetes API (a kubeconfig, or in-cluster config).
// The mesh CA lives in --ca-dir (generated on first start) or a Secret (--ca-secret NS/NAME).

import { parseDuration } from '../common/duration.js';
import { MeshError } from '../common/errors.js';
import { intFlag, parseFlags, usageError } from './args.js';
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
    'default-inbound-policy': { type: 'string' },
    'trace-collector': { type: 'string' },
    'ca-dir': { type: 'string' },
    'ca-secret': { type: 'string' },
    'ca-generate': { type: 'boolean' },
    'cert-ttl': { type: 'string' },
    'ca-rotate': { type: 'boolean' },
    'ca-remove-old-anchors': { type: 'boolean' },
    'ui-port': { type: 'string' },
    'ui-socket': { type: 'string' },
    'user-tokens': { type: 'string' },
    'user-auth': { type: 'string' },
  }, usage);
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const inCluster = values['in-cluster'] === true;
  if (!str('manifests') && !str('kubeconfig') && !inCluster) throw new MeshError('MESH_ERR_USAGE', `give --manifests DIR, --kubeconfig FILE or --in-cluster\nusage: ${usage}`);
  const grpcPort = intFlag(values, 'grpc-port', usage, { min: 0, max: 65535 });
  const adminPort = intFlag(values, 'admin-port', usage, { min: 0, max: 65535 });
  const uiPort = intFlag(values, 'ui-port', usage, { min: -1, max: 65535 });
  const certTtlMs = str('cert-ttl') !== undefined ? durationMs(str('cert-ttl')!, 'cert-ttl', usage) : undefined;
  const policy = str('default-inbound-policy');
  const POLICIES = ['all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'deny'] as const;
  if (policy !== undefined && !(POLICIES as readonly string[]).includes(policy)) throw usageError(`--default-inbound-policy must be one of ${POLICIES.join(', ')}, got "${policy}"`, usage);
  const collector = str('trace-collector');
  if (collector !== undefined && !/^[A-Za-z0-9.-]+:[0-9]{1,5}$/.test(collector)) throw usageError(`--trace-collector must be HOST:PORT of an OTLP/HTTP collector (e.g. 10.200.3.10:4318), got "${collector}"`, usage);
  const caSecret = str('ca-secret');
  if (caSecret !== undefined && !/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(caSecret)) throw usageError(`--ca-secret must be NAMESPACE/NAME, got "${caSecret}"`, usage);
  if (caSecret && str('ca-dir')) throw usageError('give --ca-dir or --ca-secret, not both', usage);
  const userAuth = str('user-auth');
  if (userAuth !== undefined && userAuth !== 'kubernetes') throw usageError(`--user-auth must be "kubernetes" (TokenReview and RBAC on insight.nodemesh.io), got "${userAuth}"`, usage);
  if (userAuth && str('user-tokens')) throw usageError('give --user-tokens or --user-auth, not both', usage);
  if (userAuth && !str('kubeconfig') && !inCluster) throw usageError('--user-auth kubernetes needs the Kubernetes source (--kubeconfig FILE or --in-cluster)', usage);
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
      ...(policy ? { defaultInboundPolicy: policy as (typeof POLICIES)[number] } : {}),
      ...(collector ? { traceCollector: collector } : {}),
      ...(str('ca-dir') ? { caDir: str('ca-dir')! } : {}),
      ...(caSecret ? { caSecret: { namespace: caSecret.split('/')[0]!, name: caSecret.split('/')[1]!, ...(kube ?? {}) } } : {}),
      ...(values['ca-generate'] === true ? { caGenerate: true } : {}),
      ...(certTtlMs !== undefined ? { certTtlMs } : {}),
      ...(values['ca-rotate'] === true ? { caRotate: true } : {}),
      ...(values['ca-remove-old-anchors'] === true ? { caRemoveOldAnchors: true } : {}),
    });
    // the web UI and insight API (stat, tap, explain, check): TCP 8084 (-1: off) and a unix socket
    const { DashboardServer, KubeUserAuth, readUserTokens } = await import('../dashboard/index.js');
    const ui = new DashboardServer({ source: handle, ...(str('user-tokens') ? { users: readUserTokens(str('user-tokens')!) } : {}), ...(userAuth && kube ? { kube: new KubeUserAuth(kube) } : {}) });
    if ((uiPort ?? 8084) >= 0) await ui.listenTcp(uiPort ?? 8084);
    if (str('ui-socket')) await ui.listenUnix(str('ui-socket')!);
    if (!signalled) await new Promise<void>((resolve) => { wake = resolve; });
    await ui.close();
    await handle.stop();
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/** "24h", "90m", "3600s", "1h30m" → milliseconds (at least one minute). */
export function durationMs(v: string, flag: string, usage: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms < 60_000) throw usageError(`--${flag} must be a duration of at least 1m such as 24h, 90m or 1h30m, got "${v}"`, usage);
  return ms;
}
