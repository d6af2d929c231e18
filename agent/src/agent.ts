// The node agent: one process per node, in the node's network namespace. It takes its NodeConfig
// from the controller's stream (or, standalone, from a manifest directory), derives this node's
// view, keeps the BPF capture in step with it, runs the native node proxy with a compiled decision
// table, and serves metrics, logs and /config_dump.

import { readFileSync } from 'node:fs';
import { MeshError, toMeshError } from '../../common/errors.js';
import { PORT_ADMIN, PORT_INBOUND, PORT_OUTBOUND, PORT_TUNNEL, COUNTER_NAMES } from '../../common/layout.js';
import { Datapath, NodeProxy, cleanupPins, type ConnEvent } from '../../native/index.js';
import { applyUpdate, emptyConfig, type ConfigUpdate, type NodeConfig } from '../../controller/src/views/index.js';
import { AdminServer } from './admin/index.js';
import { CaptureReconciler, NetWatch, installPolicyRouting, readLocalAddrs, removePolicyRouting } from './capture/index.js';
import { ControllerFeed, LocalFeed, type ConfigFeed } from './config/index.js';
import { compileTable } from './decide/index.js';
import { GrpcSigner, IdentityManager, LocalSigner, describeBundle, type CertificateSigner } from './identity/index.js';
import { preflight } from './preflight.js';
import { ReportClient, buildSnapshot, type MetricValues } from './report/index.js';
import { IndexAllocator, buildNodeView, type NodeView } from './state/index.js';
import { AgentMetrics, createLogger, registerGoldenMetrics, registerRouteStats, type GoldenSnapshot, type Logger } from './telemetry/index.js';
import { SpanExporter } from './tracing/index.js';

export interface AgentOptions {
  readonly nodeName: string;
  /** standalone mode: read this manifest directory */
  readonly manifestsDir?: string;
  /** controller mode: host:port of the controller's gRPC endpoint */
  readonly controller?: string;
  /** controller mode: this node's credential (or tokenFile) */
  readonly token?: string;
  readonly tokenFile?: string;
  /** controller mode: where the last good config is kept, default /var/lib/nodemesh/<node> */
  readonly stateDir?: string;
  /** bpffs directory for this node's maps and links, default /sys/fs/bpf/nodemesh/<node> */
  readonly pinDir?: string;
  readonly adminPort?: number;
  readonly adminSocket?: string;
  readonly outboundPort?: number;
  readonly inboundPort?: number;
  /** safety resync: how often capture is re-checked with no config or kernel change seen (default
   *  30 s; kernel changes are seen at once through `ip monitor`, config changes through the feed) */
  readonly resyncMs?: number;
  /** the HBONE listener, default 15008 */
  readonly tunnelPort?: number;
  /** standalone mode: the local CA's directory (agents sharing it trust each other), default
   *  <stateDir>/ca */
  readonly caDir?: string;
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

/** The config feed and who signs this node's workload certificates: the controller (its CA over
 *  gRPC) or, standalone, a local CA whose bundle the local feed carries. */
async function makeFeed(opts: AgentOptions, log: Logger, current: () => NodeConfig): Promise<{ feed: ConfigFeed; signer: CertificateSigner; token?: string }> {
  const stateDir = opts.stateDir ?? `/var/lib/nodemesh/${opts.nodeName}`;
  if (opts.controller) {
    const token = opts.token ?? (opts.tokenFile ? readFileSync(opts.tokenFile, 'utf8').trim() : undefined);
    if (!token) throw new MeshError('MESH_ERR_CONFIG', 'controller mode needs the node credential: pass --token-file FILE');
    return {
      feed: new ControllerFeed({ address: opts.controller, node: opts.nodeName, token, stateDir, current, log }),
      signer: new GrpcSigner({ address: opts.controller, node: opts.nodeName, token }),
      token,
    };
  }
  if (opts.manifestsDir) {
    const signer = await LocalSigner.open({ caDir: opts.caDir ?? `${stateDir}/ca`, trustDomain: 'cluster.local' });
    return { feed: new LocalFeed(opts.manifestsDir, opts.nodeName, log, 'cluster.local', signer.meshConfig()), signer };
  }
  throw new MeshError('MESH_ERR_CONFIG', 'the agent needs a config source: --controller HOST:PORT (with --token-file) or --manifests DIR');
}

async function start(opts: AgentOptions, log: Logger): Promise<AgentHandle> {
  preflight();
  const pinDir = opts.pinDir ?? `/sys/fs/bpf/nodemesh/${opts.nodeName}`;
  const metrics = new AgentMetrics(opts.nodeName);
  const indexes = new IndexAllocator();
  const tunnelPort = opts.tunnelPort ?? PORT_TUNNEL;
  const ports = [opts.outboundPort ?? PORT_OUTBOUND, opts.inboundPort ?? PORT_INBOUND, tunnelPort];
  let config: NodeConfig = emptyConfig();
  let view: NodeView = buildNodeView(config, opts.nodeName, readLocalAddrs(), indexes, ports);
  let tableVersion = 0;
  let lastReject: string | undefined;

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
          src_identity: e.srcIdentity || null, dst_identity: e.dstIdentity || null, tls: e.tls,
          bytes_up: e.bytesUp, bytes_down: e.bytesDown, duration_ms: e.durationUs / 1000, reason: e.reason,
          ...(e.policy ? { policy: e.policy } : {}), ...(e.audit ? { audit: e.audit } : {}),
        }, 'connection closed');
        if (e.reason === 'MESH_ERR_AUTHZ_DENIED' || e.reason === 'MESH_ERR_MTLS_REQUIRED') {
          log.warn({ code: e.reason, policy: e.policy || null }, `${e.policy ? `policy ${e.policy}` : 'authorization'} denied ${e.srcIdentity || `unauthenticated ${e.srcIp}`} → ${l.dst_namespace}/${l.dst_workload} port ${e.dstPort}`);
        }
      }
    }
  };
  const proxy = NodeProxy.start({ outboundPort: ports[0], inboundPort: ports[1], tunnelPort }, onEvents);
  // read at scrape time; once the proxy is closed there is nothing to report
  registerGoldenMetrics(metrics.registry, () => { try { return proxy.goldenMetrics(); } catch { return undefined; } });
  registerRouteStats(metrics.registry, () => { try { return proxy.routeStats(); } catch { return []; } });
  metrics.setHttpAuthzSource(() => { try { return proxy.httpAuthz(); } catch { return []; } });
  /** Writes the proxy's queued log lines (HTTP request denials), at most once a second. */
  let logDropped = 0;
  const drainProxyLog = (): void => {
    let b: { lines: Record<string, unknown>[]; dropped: number };
    try { b = proxy.takeLog(); } catch { return; }
    for (const l of b.lines) {
      const { msg, ...rest } = l;
      log.warn(rest, typeof msg === 'string' ? msg : 'node proxy');
    }
    if (b.dropped > logDropped) log.warn({ code: 'MESH_ERR_LOG_DROPPED', dropped: b.dropped - logDropped }, 'node proxy log lines dropped: the queue was full');
    logDropped = b.dropped;
  };

  // spans leave through the mesh's collector, drained on the 1 s drain timer (never per request)
  const spans = new SpanExporter({ node: opts.nodeName, take: (max, resource) => proxy.takeSpans(max, resource), registry: metrics.registry, log });

  /** Reconciles capture with the current view and refreshes the capture metrics. */
  const reconcile = (): void => {
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
  };

  /** Applies one update atomically: a throw leaves config, view and table as they were (NACK). */
  const apply = (u: ConfigUpdate): void => {
    const next = applyUpdate(config, u);
    const nextView = buildNodeView(next, opts.nodeName, readLocalAddrs(), indexes, ports);
    try {
      proxy.setTable(JSON.stringify(compileTable(nextView, tableVersion + 1)));
    } catch (e) {
      lastReject = (e as Error).message;
      throw e;
    }
    tableVersion++;
    config = next;
    view = nextView;
    lastReject = undefined;
    identity.setMesh(config.mesh);
    identity.setWanted(view.local.filter((w) => w.enrolled && w.ip).map((w) => w.identity));
    spans.setCollector(config.mesh?.traceCollector);
    if (u.full) identity.retryNow();
    reconcile();
    reporter.current?.nudge();
    log.info({ version: u.version, full: u.full, enrolled: view.local.filter((w) => w.enrolled).map((w) => w.key), table: tableVersion }, 'applied config');
  };

  const { feed, signer, token } = await makeFeed(opts, log, () => config);
  // set once the proxy and identity exist; apply() (which may run first) nudges it when present
  const reporter: { current?: ReportClient } = {};
  const identity: IdentityManager = new IdentityManager({ signer, log, registry: metrics.registry });
  identity.onChange((snap) => {
    try { proxy.setCertificates(snap); } catch (e) { log.error({ code: (e as { code?: string }).code ?? 'MESH_ERR_CERT' }, `certificates not installed, previous ones stay: ${(e as Error).message}`); }
  });
  await feed.start(apply);
  identity.setMesh(config.mesh);
  identity.setWanted(view.local.filter((w) => w.enrolled && w.ip).map((w) => w.identity));
  reconcile();
  spans.setCollector(config.mesh?.traceCollector);
  /** A kernel change (or the safety timer): new local addresses rebuild the view, else capture is
   *  re-checked against the kernel. */
  const resync = (): void => {
    const addrs = readLocalAddrs();
    if (addrs.join() !== view.localAddrs.join()) {
      try { apply({ version: config.version, full: false, upserts: [], removes: [] }); } catch { /* logged by apply's caller path */ }
    } else {
      reconcile();
    }
  };
  const netWatch = new NetWatch({
    onChange: resync,
    onError: (m) => log.warn({ code: 'MESH_ERR_CAPTURE' }, `${m}; capture changes are seen by the ${(opts.resyncMs ?? 30_000) / 1000} s resync until it is back`),
  });
  const safetyResync = setInterval(resync, opts.resyncMs ?? 30_000);
  // the native log queue and drop counter, once a second (two cheap native calls)
  const drainTick = setInterval(() => {
    drainProxyLog();
    void spans.tick();
    try { metrics.eventsDropped.set(proxy.stats().eventsDropped); } catch { /* proxy closed */ }
  }, 1000);

  // controller mode: counters, pod state and tap records to the controller (stat, tap, check, UI)
  const startedAtMs = Date.now();
  const values = async (name: string): Promise<MetricValues | undefined> => metrics.registry.getSingleMetric(name)?.get() as Promise<MetricValues> | undefined;
  const report = opts.controller && token ? new ReportClient({
    address: opts.controller, node: opts.nodeName, token, log,
    sources: {
      snapshot: async () => buildSnapshot({
        atMs: Date.now(), startedAtMs,
        golden: (() => { try { return JSON.parse(proxy.goldenMetrics()) as GoldenSnapshot; } catch { return undefined; } })(),
        tcp: { opened: await values('tcp_open_total'), closed: await values('tcp_close_total'), open: await values('tcp_open_connections'), read: await values('tcp_read_bytes_total'), written: await values('tcp_write_bytes_total') },
        authz: { tcpAllow: await values('inbound_tcp_authz_allow_total'), tcpDeny: await values('inbound_tcp_authz_deny_total'), httpAllow: await values('inbound_http_authz_allow_total'), httpDeny: await values('inbound_http_authz_deny_total') },
        view, capture: reconciler.status, identities: identity.states(), configVersion: config.version, ...(lastReject ? { configError: lastReject } : {}),
      }),
      view: () => view,
      setTap: (on, max) => proxy.setTap(on, max),
      takeTap: () => proxy.takeTap(),
    },
  }) : undefined;
  reporter.current = report;
  report?.start();

  const admin = new AdminServer({
    registry: metrics.registry,
    ready: () => {
      const failed = reconciler.status.pods.filter((p) => p.state === 'failed');
      if (reconciler.status.reconciles === 0) return { ready: false, reason: 'capture not reconciled yet' };
      if (failed.length) return { ready: false, reason: `capture failed for ${failed.map((p) => p.key).join(', ')}` };
      // identity problems do not unready the node: same-node and unmeshed traffic still flows, and a
      // restarted agent must serve while the controller is away; cross-node traffic fails closed
      const id = identity.readiness();
      const warn = [...id.reasons, ...id.warnings];
      return warn.length ? { ready: true, reason: `cross-node mTLS: ${warn.join('; ')}` } : { ready: true };
    },
    configDump: () => {
      const fs = feed.status();
      return {
        node: opts.nodeName,
        pinDir,
        config: { ...fs, lastReject: lastReject ?? null },
        manifests: { rejected: (fs.detail as { rejected?: string[] } | undefined)?.rejected ?? [] },
        workloads: view.local.map((w) => ({ key: w.key, ip: w.ip ?? null, identity: w.identity, index: w.index, meshed: w.enrolled, reason: w.reason })),
        services: view.services.map((s) => ({ key: `${s.namespace}/${s.name}`, vip: s.vip, ports: s.ports.map((p) => ({ port: p.port, endpoints: p.endpoints.map((e) => `${e.ip}:${e.port}`) })) })),
        capture: reconciler.status,
        identities: identity.status() ?? [],
        trustBundle: describeBundle(identity.snapshot().bundle),
        table: { version: tableVersion },
        proxy: proxy.stats(),
        // where the agent's memory goes (bench/footprint prints it): V8 heap, external, array buffers
        memory: process.memoryUsage(),
        report: report?.status() ?? null,
        bpfCounters: Object.fromEntries(datapath.counters().map((v, i) => [COUNTER_NAMES[i] ?? `c${i}`, v])),
      };
    },
  });
  await admin.listenTcp(opts.adminPort ?? PORT_ADMIN);
  if (opts.adminSocket) await admin.listenUnix(opts.adminSocket);
  log.info({ pinDir, admin: opts.adminPort ?? PORT_ADMIN, mode: feed.status().mode }, 'agent started');

  let stopped = false;
  return {
    async stop(o = {}) {
      if (stopped) return;
      stopped = true;
      clearInterval(safetyResync);
      clearInterval(drainTick);
      netWatch.close();
      report?.close();
      feed.close();
      identity.close();
      signer.close();
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
