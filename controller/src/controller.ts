// The controller: watches the cluster through one ClusterSource (a manifest directory or the
// Kubernetes API), keeps the versioned config model, streams each agent its node's view over gRPC
// (15012) and serves its admin endpoint (15014). It holds no data-path state: agents keep running
// on their last config while it is away.

import { pino, type Logger } from 'pino';
import { toMeshError } from '../../common/errors.js';
import { AdminServer } from '../../common/admin-server.js';
import { formatProblem } from './model/index.js';
import { ManifestSource, type ClusterSource, type SourceSnapshot } from './sources/index.js';
import { ConfigModel } from './views/index.js';
import { ConfigServer } from './server/config-server.js';
import { TokenFileAuth, type NodeAuth } from './server/auth.js';
import { ControllerMetrics } from './server/metrics.js';

export interface ControllerOptions {
  /** the cluster source; or give manifestsDir for the embedded default */
  readonly source?: ClusterSource;
  readonly manifestsDir?: string;
  readonly auth?: NodeAuth;
  readonly nodeTokensFile?: string;
  readonly grpcHost?: string;
  /** 15012 by default; 0 picks a free port */
  readonly grpcPort?: number;
  readonly adminHost?: string;
  /** 15014 by default; 0 picks a free port; -1 disables */
  readonly adminPort?: number;
  readonly adminSocket?: string;
  readonly trustDomain?: string;
  readonly log?: Logger;
}

export interface ControllerHandle {
  readonly grpcPort: number;
  readonly model: ConfigModel;
  readonly metrics: ControllerMetrics;
  stop(): Promise<void>;
}

export async function runController(opts: ControllerOptions): Promise<ControllerHandle> {
  const log = opts.log ?? pino({ base: { component: 'controller' }, timestamp: pino.stdTimeFunctions.isoTime });
  try {
    return await start(opts, log);
  } catch (e) {
    const err = toMeshError(e, 'MESH_ERR_CONFIG', 'controller start');
    log.error({ code: err.code }, err.message);
    throw err;
  }
}

async function start(opts: ControllerOptions, log: Logger): Promise<ControllerHandle> {
  const source = opts.source ?? new ManifestSource(opts.manifestsDir ?? '.');
  const auth = opts.auth ?? (opts.nodeTokensFile ? TokenFileAuth.fromFile(opts.nodeTokensFile) : undefined);
  if (!auth) throw toMeshError(new Error('no node credentials configured'), 'MESH_ERR_CONFIG', 'controller: pass --node-tokens FILE so agents can authenticate');
  const metrics = new ControllerMetrics();
  const model = new ConfigModel(opts.trustDomain ?? 'cluster.local');
  const server = new ConfigServer(model, auth, metrics, log);
  let snapshot: SourceSnapshot | undefined;

  const onSnapshot = (s: SourceSnapshot): void => {
    snapshot = s;
    metrics.objectsRejected.set(s.problems.length);
    for (const p of s.problems) log.warn({ code: 'MESH_ERR_MANIFEST' }, `object rejected: ${formatProblem(p)}`);
    const t0 = performance.now();
    const delta = model.update(s.resources);
    if (!delta) return;
    metrics.modelVersion.set(delta.version);
    server.publish(delta);
    log.info({ version: delta.version, upserts: delta.upserts.length, removes: delta.removes.length, ms: +(performance.now() - t0).toFixed(2) }, 'config model updated');
  };
  source.on('update', onSnapshot);
  source.on('error', (e: Error) => log.error({ code: (e as { code?: string }).code ?? 'MESH_ERR_CONFIG' }, e.message));
  onSnapshot(await source.start());

  const grpcPort = await server.listen(opts.grpcHost ?? '0.0.0.0', opts.grpcPort ?? 15012);
  const admin = new AdminServer({
    registry: metrics.registry,
    ready: () => (snapshot ? { ready: true } : { ready: false, reason: 'no cluster snapshot yet' }),
    configDump: () => ({ version: model.version, source: source.kind, agents: server.agents(), rejected: snapshot?.problems.map(formatProblem) ?? [] }),
    routes: {
      '/debug/snapshot': (q) => {
        const node = q.get('node');
        return node ? model.fullUpdate(node) : { nodes: model.nodes(), version: model.version, hint: 'add ?node=<name>' };
      },
    },
  });
  if ((opts.adminPort ?? 15014) >= 0) await admin.listenTcp(opts.adminPort ?? 15014, opts.adminHost ?? '0.0.0.0');
  if (opts.adminSocket) await admin.listenUnix(opts.adminSocket);
  log.info({ grpcPort, source: source.kind, version: model.version }, 'controller started');

  let stopped = false;
  return {
    grpcPort,
    model,
    metrics,
    async stop() {
      if (stopped) return;
      stopped = true;
      source.close();
      await server.close();
      await admin.close();
      log.info('controller stopped');
    },
  };
}
