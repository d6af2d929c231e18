// The node agent: one process per node, in the node's network namespace. It reads the cluster's
// manifests, derives this node's view, keeps the BPF capture in step with it, runs the native node
// proxy with a compiled decision table, and serves metrics, logs and /config_dump.

import { toMeshError, type MeshError } from '../../common/errors.js';
import { PORT_ADMIN, PORT_INBOUND, PORT_OUTBOUND, COUNTER_NAMES } from '../../common/layout.js';
import { Datapath, NodeProxy, cleanupPins, type ConnEvent } from '../../native/index.js';
import { AdminServer } from './admin/index.js';
import { CaptureReconciler, installPolicyRouting, readLocalAddrs, removePolicyRouting } from './capture/index.js';
import { compileTable } from './decide/index.js';
import { formatProblem } from '../../controller/src/model/index.js';
import { ManifestSource, type ManifestSnapshot } from '../../controller/src/sources/index.js';
import { preflight } from './preflight.js';
import { IndexAllocator, buildNodeView, type NodeView } from './state/index.js';
import { AgentMetrics, createLogger } from './telemetry/index.js';

export interface AgentOptions {
  readonly nodeName: string;
  readonly manifestsDir: string;
  /** bpffs directory for this node's maps and links, default /sys/fs/bpf/nodemesh/<node> */
  readonly pinDir?: string;
  readonly adminPort?: number;
  readonly adminSocket?: string;
  readonly outboundPort?: number;
  readonly inboundPort?: number;
  /** how often capture is re-checked even without manifest changes */
  readonly resyncMs?: number;
}

export interface AgentHandle {
  /** Stops serving. cleanup=true also detaches, unpins and removes routing (uninstall). */
  stop(opts?: { cleanup?: boolean }): Promise<void>;
}

export async function runAgent(opts: AgentOptions): Promise<AgentHandle> {
  const log = createLogger(opts.nodeName);
  try {
    return await start(opts, log);
  } catch (e) {
    const err = toMeshError(e, 'MESH_ERR_CONFIG', 'agent start');
    log.error({ code: err.code }, err.message);
    throw err;
  }
}

async function start(opts: AgentOptions, log: ReturnType<typeof createLogger>): Promise<AgentHandle> {
  preflight();
  const pinDir = opts.pinDir ?? `/sys/fs/bpf/nodemesh/${opts.nodeName}`;
  const metrics = new AgentMetrics(opts.nodeName);
  const source = new ManifestSource(opts.manifestsDir);
  let snapshot: ManifestSnapshot = source.load();
  const indexes = new IndexAllocator();
  const ports = [opts.outboundPort ?? PORT_OUTBOUND, opts.inboundPort ?? PORT_INBOUND];
  let view: NodeView = buildNodeView(snapshot.resources, opts.nodeName, readLocalAddrs(), indexes, ports);
  let tableVersion = 0;
  let lastTableError: string | undefined;

  installPolicyRouting();
  const datapath = Datapath.open(pinDir);
  metrics.setBpfCounterSource(() => datapath.counters());
  const reconciler = new CaptureReconciler(datapath);

  const onEvents = (events: ConnEvent[]): void => {
    for (const e of events) {
      const l = AgentMetrics.labels(view, e);
      metrics.record(e, l);
      if (e.kind === 'close') {
        log.info({
          conn: e.id, direction: e.direction, src: `${e.srcIp}:${e.srcPort}`, dst: `${e.dstIp}:${e.dstPort}`,
          src_workload: `${l.src_namespace}/${l.src_workload}`, dst_workload: `${l.dst_namespace}/${l.dst_workload}`,
          bytes_up: e.bytesUp, bytes_down: e.bytesDown, duration_ms: e.durationUs / 1000, reason: e.reason,
        }, 'connection closed');
      }
    }
  };
  const proxy = NodeProxy.start({ outboundPort: ports[0], inboundPort: ports[1] }, onEvents);

  const apply = (why: string): void => {
    view = buildNodeView(snapshot.resources, opts.nodeName, readLocalAddrs(), indexes, ports);
    try {
      proxy.setTable(JSON.stringify(compileTable(view, ++tableVersion)));
      lastTableError = undefined;
    } catch (e) {
      lastTableError = (e as Error).message;
      log.error({ code: (e as MeshError).code }, `decision table rejected, previous one stays: ${lastTableError}`);
    }
    const before = reconciler.status;
    const st = reconciler.reconcile(view);
    if (st.lastError) {
      metrics.captureReconcileErrors.inc();
      if (st.lastError !== before.lastError) log.warn({ code: 'MESH_ERR_CAPTURE' }, `capture: ${st.lastError}; retrying`);
    }
    metrics.podCaptureFailed.reset();
    for (const p of st.pods) if (p.state === 'failed') {
      const [ns, pod] = p.key.split('/');
      metrics.podCaptureFailed.set({ namespace: ns ?? '', pod: pod ?? '' }, 1);
    }
    metrics.enrolled.set(view.local.filter((w) => w.enrolled).length);
    metrics.eventsDropped.set(proxy.stats().eventsDropped);
    if (why !== 'resync') log.info({ why, enrolled: view.local.filter((w) => w.enrolled).map((w) => w.key), table: tableVersion }, 'applied node view');
  };

  const onSnapshot = (s: ManifestSnapshot): void => {
    snapshot = s;
    metrics.manifestRejected.set(s.problems.length);
    for (const p of s.problems) log.warn({ code: 'MESH_ERR_MANIFEST' }, `manifest rejected: ${formatProblem(p)}`);
    apply('manifests changed');
  };
  onSnapshot(snapshot);
  source.on('update', onSnapshot);
  source.on('error', (e: Error) => log.error({ code: (e as MeshError).code ?? 'MESH_ERR_CONFIG' }, e.message));
  source.watch();
  const resync = setInterval(() => apply('resync'), opts.resyncMs ?? 1000);

  const admin = new AdminServer({
    registry: metrics.registry,
    ready: () => {
      const failed = reconciler.status.pods.filter((p) => p.state === 'failed');
      if (reconciler.status.reconciles === 0) return { ready: false, reason: 'capture not reconciled yet' };
      return failed.length ? { ready: false, reason: `capture failed for ${failed.map((p) => p.key).join(', ')}` } : { ready: true };
    },
    configDump: () => ({
      node: opts.nodeName,
      pinDir,
      manifests: { dir: source.dir, generation: snapshot.generation, rejected: snapshot.problems.map(formatProblem) },
      workloads: view.local.map((w) => ({ key: w.key, ip: w.ip ?? null, identity: w.identity, index: w.index, meshed: w.enrolled, reason: w.reason })),
      capture: reconciler.status,
      table: { version: tableVersion, error: lastTableError ?? null },
      proxy: proxy.stats(),
      bpfCounters: Object.fromEntries(datapath.counters().map((v, i) => [COUNTER_NAMES[i] ?? `c${i}`, v])),
    }),
  });
  await admin.listenTcp(opts.adminPort ?? PORT_ADMIN);
  if (opts.adminSocket) await admin.listenUnix(opts.adminSocket);
  log.info({ pinDir, admin: opts.adminPort ?? PORT_ADMIN }, 'agent started');

  let stopped = false;
  return {
    async stop(o = {}) {
      if (stopped) return;
      stopped = true;
      clearInterval(resync);
      source.close();
      await admin.close();
      await proxy.close();
      if (o.cleanup) {
        for (const i of datapath.attachedInterfaces()) datapath.detach(i);
        datapath.close();
        cleanupPins(pinDir);
        removePolicyRouting();
      } else {
        datapath.close();
      }
      log.info({ cleanup: Boolean(o.cleanup) }, 'agent stopped');
    },
  };
}
