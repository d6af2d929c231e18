// The controller: watches the cluster through one ClusterSource (a manifest directory or the
// Kubernetes API), keeps the versioned config model, streams each agent its node's view over gRPC
// (15012), signs workload certificates on the same port (the mesh CA) and serves its admin
// endpoint (15014). It holds no data-path state: agents keep running on their last config (and
// certificates) while it is away.

import { pino, type Logger } from 'pino';
import { toMeshError } from '../../common/errors.js';
import { AdminServer } from '../../common/admin-server.js';
import { formatProblem } from './model/index.js';
import { KubeSource, ManifestSource, type ClusterSource, type SourceSnapshot } from './sources/index.js';
import { ConfigModel } from './views/index.js';
import { ConfigServer, type AgentInfo } from './server/config-server.js';
import { TokenFileAuth, type NodeAuth } from './server/auth.js';
import { ControllerMetrics } from './server/metrics.js';
import { TelemetryServer } from './server/telemetry-server.js';
import { telemetryServiceDefinition } from './grpc/index.js';
import { CaManager, CaMetrics, CertificateService, DirCaStore, MeshCA, SecretCaStore, certificateServiceDefinition, openCa, type CaStore, type RateLimitOptions, type SecretCaStoreOptions } from './ca/index.js';
import type { DefaultInboundPolicy } from './views/index.js';
import { CONTROLLER_NAME, routeKey, routeStatuses, type RouteStatus } from './routes/index.js';

/** Logs each route whose status changed, once per change (a warning while a condition is False). */
function logRouteStatus(log: Logger, statuses: readonly RouteStatus[], seen: Map<string, string>): void {
  const keys = new Set<string>();
  for (const r of statuses) {
    const key = routeKey(r);
    keys.add(key);
    const json = JSON.stringify(r.parents.map((p) => p.conditions.map((c) => [c.status, c.reason, c.message])));
    if (seen.get(key) === json) continue;
    seen.set(key, json);
    const bad = r.parents.flatMap((p) => p.conditions.filter((c) => c.status === 'False').map((c) => `${p.parentRef.name}${p.parentRef.port ? `:${p.parentRef.port}` : ''} ${c.type}=False ${c.reason}: ${c.message}`));
    if (bad.length) log.warn({ route: key }, `route ${key}: ${bad.join('; ')}`);
    else log.info({ route: key, parents: r.parents.length }, `route ${key}: accepted, references resolved`);
  }
  for (const k of [...seen.keys()]) if (!keys.has(k)) seen.delete(k);
}

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
  /** the default inbound policy streamed to agents, default all-unauthenticated */
  readonly defaultInboundPolicy?: DefaultInboundPolicy;
  /** host:port of an OTLP/HTTP collector streamed to agents (mesh.traceCollector); absent: no tracing */
  readonly traceCollector?: string;
  /** the CA: given (tests), else from caDir, else from caSecret, else generated in memory */
  readonly ca?: CaManager | MeshCA;
  /** state directory with ca.crt, tls.crt, tls.key; generated on first start */
  readonly caDir?: string;
  /** a cert-manager style Secret; generated into it only with caGenerate */
  readonly caSecret?: SecretCaStoreOptions;
  readonly caGenerate?: boolean;
  /** leaf lifetime, default 24 h; notBefore skew allowance, default 5 min */
  readonly certTtlMs?: number;
  readonly certSkewMs?: number;
  /** per-node CSR token bucket, default burst 200, 50/s */
  readonly csrRateLimit?: RateLimitOptions;
  /** at start: rotation step 1 (add an anchor + issuer) / step 2 (drop anchors not signing the issuer) */
  readonly caRotate?: boolean;
  readonly caRemoveOldAnchors?: boolean;
  readonly log?: Logger;
}

export interface ControllerHandle {
  readonly grpcPort: number;
  readonly model: ConfigModel;
  readonly metrics: ControllerMetrics;
  /** the mesh CA: rotate() / removeAnchors() persist and stream the new bundle to every agent */
  readonly ca: CaManager;
  /** what agents report (counters, pod state) and the tap hub */
  readonly telemetry: TelemetryServer;
  /** the agents connected to the config stream, with their ACKed versions */
  agents(): AgentInfo[];
  stop(): Promise<void>;
}

/** Opens the CA the options name (see ControllerOptions.ca). */
async function openControllerCa(opts: ControllerOptions, trustDomain: string, log: Logger): Promise<CaManager> {
  if (opts.ca instanceof CaManager) return opts.ca;
  if (opts.ca) return new CaManager(opts.ca);
  const caOpts = { trustDomain, ...(opts.certTtlMs !== undefined ? { certTtlMs: opts.certTtlMs } : {}), ...(opts.certSkewMs !== undefined ? { skewMs: opts.certSkewMs } : {}) };
  let store: CaStore | undefined;
  if (opts.caDir) store = new DirCaStore(opts.caDir);
  else if (opts.caSecret) store = new SecretCaStore(opts.caSecret);
  if (!store) {
    log.warn({ code: 'MESH_ERR_CA' }, 'the mesh CA lives in memory only: every restart changes the trust anchor; pass --ca-dir DIR (or a Secret in Kubernetes) to keep it');
    return new CaManager(await MeshCA.generate(caOpts));
  }
  const { ca, generated } = await openCa(store, { ...caOpts, generate: opts.caDir !== undefined || opts.caGenerate === true });
  log.info({ store: store.where, generated, anchors: ca.anchors.length }, generated ? 'generated a new mesh CA' : 'loaded the mesh CA');
  return new CaManager(ca, store);
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
  const trustDomain = opts.trustDomain ?? 'cluster.local';
  const ca = await openControllerCa(opts, trustDomain, log);
  if (ca.ca.trustDomain !== trustDomain) throw toMeshError(new Error(`the CA signs for "${ca.ca.trustDomain}", the model derives identities in "${trustDomain}"`), 'MESH_ERR_CONFIG', 'controller');
  if (opts.caRotate) log.warn({ issuer: (await ca.rotate()).issuer }, 'CA rotation step 1: a new anchor and issuer; remove the old anchor (--ca-remove-old-anchors) once every certificate was renewed');
  if (opts.caRemoveOldAnchors) log.warn({ removed: await ca.removeAnchors() }, 'CA rotation step 2: old trust anchors removed');
  const meshCfg = () => ({ trustDomain, trustAnchors: ca.anchors, defaultInboundPolicy: opts.defaultInboundPolicy ?? 'all-unauthenticated' as const, ...(opts.traceCollector ? { traceCollector: opts.traceCollector } : {}) });
  const model = new ConfigModel(trustDomain, meshCfg());
  const server = new ConfigServer(model, auth, metrics, log);
  const caMetrics = new CaMetrics(metrics.registry);
  ca.useMetrics(caMetrics);
  const certs = new CertificateService({ signer: () => ca.ca, auth, directory: model, metrics: caMetrics, log, ...(opts.csrRateLimit ? { rateLimit: opts.csrRateLimit } : {}) });
  server.addService(certificateServiceDefinition, certs.handlers());
  const telemetry = new TelemetryServer(auth, log);
  server.addService(telemetryServiceDefinition, telemetry.handlers());
  ca.onChange(() => {
    const delta = model.setMesh(meshCfg());
    if (!delta) return;
    metrics.modelVersion.set(delta.version);
    server.publish(delta);
    log.info({ version: delta.version, anchors: ca.anchors.length }, 'trust bundle changed; streamed to every agent');
  });
  let snapshot: SourceSnapshot | undefined;
  let routeStatus: readonly RouteStatus[] = [];
  const routeStatusSeen = new Map<string, string>();

  const onSnapshot = (s: SourceSnapshot): void => {
    snapshot = s;
    metrics.objectsRejected.set(s.problems.length);
    for (const p of s.problems) log.warn({ code: 'MESH_ERR_MANIFEST' }, `object rejected: ${formatProblem(p)}`);
    routeStatus = routeStatuses(s.resources, s.problems, source instanceof KubeSource ? source.routeHeads() : undefined);
    logRouteStatus(log, routeStatus, routeStatusSeen);
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
    configDump: () => ({ version: model.version, source: source.kind, agents: server.agents(), rejected: snapshot?.problems.map(formatProblem) ?? [], ca: ca.info() }),
    actions: {
      '/ca/rotate': async () => ({ rotated: true, ca: await ca.rotate() }),
      '/ca/remove-old-anchors': async () => ({ removed: await ca.removeAnchors(), ca: ca.info() }),
    },
    routes: {
      // route status per Service parentRef (Accepted, ResolvedRefs); in Kubernetes it is also written to the objects
      '/routes/status': (q) => {
        const ns = q.get('namespace');
        return { controllerName: CONTROLLER_NAME, routes: ns ? routeStatus.filter((r) => r.namespace === ns) : routeStatus };
      },
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
    ca,
    telemetry,
    agents: () => server.agents(),
    async stop() {
      if (stopped) return;
      stopped = true;
      telemetry.close();
      source.close();
      await server.close();
      await admin.close();
      log.info('controller stopped');
    },
  };
}
