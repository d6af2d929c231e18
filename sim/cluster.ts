// SimCluster: a simulated Kubernetes cluster built from a manifest directory — nodes and pods as
// network namespaces, pod commands and one agent per node as processes, rendered manifests with
// status.podIP — plus the handles tests and the demo use (exec, agent admin, agent restart, down).

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { MeshError, toMeshError } from '../common/errors.js';
import { formatProblem } from '../controller/src/model/index.js';
import { ManifestSource, type ManifestSnapshot } from '../controller/src/sources/index.js';
import { startAgent, unixGet, unixRequest, type AgentStartOptions, type HttpResult } from './agents.js';
import { CONTROLLER_ADMIN_PORT, CONTROLLER_GRPC_PORT, CONTROLLER_IP, VipAllocator, controllerPaths, issueTokens, startController } from './controller.js';
import { ipBatch, listNetns, sameProcess, signal, sleep, startTime } from './exec.js';
import { guard, guardSignals, unguard } from './guard.js';
import { buildNodes, buildPods, deleteNetns, killNetnsProcesses, planNetns, teardownNetnsSync } from './netns.js';
import { assignmentsOf, planCluster, type Assignments, type ClusterPlan, type PodPlan } from './plan.js';
import { logName, podRecord, startPod, waitPodsReady, type StartedPod } from './pods.js';
import { collect, execInNetns, killSync, spawnInNetns, stopProcess, type ExecResult } from './procs.js';
import { renderManifestDir } from './render.js';
import { stateDir, writeStatus, type ClusterStatus, type NodeStatus, type PodStatusRecord, type ProcRef } from './state.js';
import { removePins, type DownReport } from './teardown.js';
import { PROMETHEUS_IP, prometheusGet, prometheusPaths, startPrometheus, writeTargets, type PrometheusOptions, type PromResult } from './prometheus.js';

function ownerRef(): ProcRef {
  const t = startTime(process.pid);
  return { pid: process.pid, ...(t !== undefined ? { startTime: t } : {}) };
}

export interface UpOptions {
  readonly manifestsDir: string;
  /** start one agent per node (default true); false builds only namespaces and pods */
  readonly agents?: boolean;
  /** default: 6 random hex digits */
  readonly clusterId?: string;
  readonly onProgress?: (msg: string) => void;
  readonly podReadyTimeoutMs?: number;
  readonly agentReadyTimeoutMs?: number;
  /** tear down and exit on SIGINT/SIGTERM (default true; `cluster up` handles signals itself) */
  readonly handleSignals?: boolean;
  /** follow manifest changes: re-render, add and remove pods (default true) */
  readonly watch?: boolean;
  /**
   * The agent program, default ["nodemesh", "agent"]; the per-node flags (--node, --manifests,
   * --pin-dir, --admin-socket) are appended. A seam for tests and for trying other agent builds.
   */
  readonly agentCommand?: readonly string[];
  /**
   * Run a controller (default true when agents run): agents get their config over gRPC from it.
   * false: each agent reads the rendered manifests itself (standalone mode).
   */
  readonly controller?: boolean;
  /** extra flags for the controller (e.g. ["--cert-ttl", "1m"]), kept for restarts */
  readonly controllerArgs?: readonly string[];
  /** run Debian's prometheus in the fabric netns scraping the controller and agents (sim/prometheus.ts) */
  readonly prometheus?: boolean | PrometheusOptions;
}

export type NodeInfo = Readonly<NodeStatus> & { readonly index: number; readonly agentPid?: number };
export type PodInfo = Readonly<PodStatusRecord> & { readonly pid?: number; /** set once the pod's command has exited */ readonly exitCode?: number };

export interface PodProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** resolves when the process ends, with its output */
  readonly done: Promise<ExecResult>;
  kill(sig?: NodeJS.Signals): void;
}

export class SimCluster {
  readonly clusterId: string;
  readonly runDir: string;
  readonly manifestsDir: string;
  readonly renderedDir: string;
  readonly #status: ClusterStatus;
  readonly #source: ManifestSource;
  readonly #progress: (msg: string) => void;
  readonly #opts: UpOptions;
  #plan: ClusterPlan;
  #assign: Assignments;
  readonly #started = new Map<string, StartedPod>();
  readonly #children = new Set<ChildProcess>();
  readonly #vips = new VipAllocator();
  #queue: Promise<void> = Promise.resolve();
  #down: Promise<DownReport> | undefined;

  private constructor(opts: UpOptions, source: ManifestSource, plan: ClusterPlan) {
    this.#opts = opts;
    this.#progress = opts.onProgress ?? (() => undefined);
    this.#source = source;
    this.#plan = plan;
    this.#assign = assignmentsOf(plan);
    this.clusterId = plan.clusterId;
    this.runDir = stateDir(plan.clusterId);
    this.manifestsDir = source.dir;
    this.renderedDir = path.join(this.runDir, 'manifests');
    const nodes: NodeStatus[] = plan.nodes.map((n) => {
      const sock = path.join(this.runDir, n.name, 'admin.sock');
      return {
        name: n.name, netns: n.netns, uplinkIp: n.uplinkIp, podCidr: n.podCidr, gateway: n.gateway, pinDir: n.pinDir,
        adminSocket: sock.length <= 100 ? sock : path.join(this.runDir, `n${n.index}`, 'admin.sock'),
        agentLog: path.join(this.runDir, 'logs', `agent-${n.name}.log`),
      };
    });
    this.#status = {
      clusterId: plan.clusterId, createdAt: new Date().toISOString(), owner: ownerRef(), manifestsDir: source.dir,
      runDir: this.runDir, renderedDir: this.renderedDir, fabricNetns: plan.fabricNetns, agents: opts.agents ?? true,
      phase: 'building', nodes, pods: [],
    };
  }

  /** Builds the cluster; on any failure everything created so far is removed before the error. */
  static async up(opts: UpOptions): Promise<SimCluster> {
    if (process.getuid?.() !== 0) throw new MeshError('MESH_ERR_NOT_ROOT', 'the simulated cluster creates network namespaces; run as root (sudo)');
    const source = new ManifestSource(opts.manifestsDir);
    const snap = source.load();
    for (const p of snap.problems) opts.onProgress?.(`warning: manifest rejected: ${formatProblem(p)}`);
    if (snap.resources.pods.size === 0) throw new MeshError('MESH_ERR_CLUSTER', `no valid Pod in ${source.dir}; add Pods with spec.nodeName to simulate`);
    const plan = planCluster(snap.resources, opts.clusterId ?? randomBytes(3).toString('hex'));
    const c = new SimCluster(opts, source, plan);
    guard(c, opts.handleSignals ?? true);
    try {
      await c.#build();
    } catch (e) {
      if (c.#down) {
        await c.down().catch(() => undefined);
        throw new MeshError('MESH_ERR_CLUSTER', `the build of cluster ${plan.clusterId} was interrupted (a signal or down()); everything it created was removed`, { cause: e });
      }
      opts.onProgress?.('build failed (the error follows); removing everything it created');
      await c.down().catch(() => undefined);
      throw toMeshError(e, 'MESH_ERR_CLUSTER', `cluster ${plan.clusterId} could not be built (everything it created was removed)`);
    }
    return c;
  }

  async #build(): Promise<void> {
    const plan = this.#plan;
    const say = this.#progress;
    mkdirSync(path.join(this.runDir, 'logs'), { recursive: true });
    writeStatus(this.#status);
    say(`cluster ${this.clusterId}: ${plan.nodes.length} node(s), ${plan.pods.length} pod(s); state in ${this.runDir}`);
    say(`creating the fabric and node namespaces (${plan.nodes.map((n) => n.name).join(', ')})`);
    await buildNodes(plan);
    this.#check();
    say(`creating ${plan.pods.length} pod namespace(s)`);
    await buildPods(plan, plan.pods);
    for (const p of plan.pods) this.#status.pods.push(podRecord(p, path.join(this.runDir, 'logs', logName(p))));
    this.#render();
    writeStatus(this.#status);
    this.#check();
    if (this.#status.agents && this.#withController) {
      const cp = controllerPaths(this.runDir);
      issueTokens(cp, this.#status.nodes.map((n) => n.name));
      await ipBatch(plan.fabricNetns, [`addr add ${CONTROLLER_IP}/24 dev ${plan.bridge}`]);
      say(`starting the controller at ${CONTROLLER_IP}:${CONTROLLER_GRPC_PORT}`);
      this.#status.controller = await startController(plan.fabricNetns, cp, this.renderedDir, this.#opts.controllerArgs);
      writeStatus(this.#status);
      this.#check();
    }
    if (this.#status.agents) {
      say('starting one agent per node');
      await Promise.all(this.#status.nodes.map(async (n) => {
        await startAgent(n, this.renderedDir, this.#agentOpts());
        say(`agent ${n.name} ready (pid ${n.agent?.pid})`);
      }));
      writeStatus(this.#status);
      this.#check();
    }
    if (this.#opts.prometheus) await this.#startPrometheus(this.#opts.prometheus === true ? {} : this.#opts.prometheus);
    await this.#startPods(plan.pods);
    this.#status.phase = 'running';
    writeStatus(this.#status);
    if (this.#opts.watch ?? true) {
      this.#source.on('update', (s: ManifestSnapshot) => { this.#queue = this.#queue.then(() => this.#reconcile(s)).catch((e: unknown) => say(`warning: ${(e as Error).message}`)); });
      this.#source.on('error', (e: Error) => say(`warning: ${e.message}`));
      this.#source.watch();
    }
    say('cluster ready');
  }

  get #withController(): boolean {
    return this.#opts.controller ?? true;
  }

  #agentOpts(): AgentStartOptions {
    const cp = controllerPaths(this.runDir);
    return {
      ...(this.#opts.agentReadyTimeoutMs ? { timeoutMs: this.#opts.agentReadyTimeoutMs } : {}),
      ...(this.#opts.agentCommand ? { command: this.#opts.agentCommand } : {}),
      ...(this.#withController ? { controller: { address: `${CONTROLLER_IP}:${CONTROLLER_GRPC_PORT}`, tokenFile: cp.tokenFile, stateDir: cp.stateDir } } : {}),
    };
  }

  async #startPrometheus(o: PrometheusOptions): Promise<void> {
    const pp = prometheusPaths(this.runDir);
    writeTargets(pp, this.#status.nodes, this.#status.controller ? `${CONTROLLER_IP}:${CONTROLLER_ADMIN_PORT}` : undefined);
    await ipBatch(this.#plan.fabricNetns, [`addr add ${PROMETHEUS_IP}/24 dev ${this.#plan.bridge}`]);
    this.#progress(`starting prometheus at ${PROMETHEUS_IP}:9090 (fabric netns ${this.#plan.fabricNetns})`);
    this.#status.prometheus = await startPrometheus(this.#plan.fabricNetns, pp, this.clusterId, o);
    writeStatus(this.#status);
    this.#check();
  }

  /** GET on the cluster's Prometheus HTTP API (e.g. /api/v1/query?query=up). */
  prometheusGet(urlPath: string, timeoutMs?: number): Promise<PromResult> {
    if (!this.#status.prometheus) throw new MeshError('MESH_ERR_CLUSTER', `cluster ${this.clusterId} runs no Prometheus; start it with SimCluster.up({ prometheus: true }) or "cluster up --prometheus"`);
    return prometheusGet(this.#plan.fabricNetns, urlPath, timeoutMs);
  }

  /** Stops the cluster's Prometheus (the mesh does not depend on it). */
  async stopPrometheus(): Promise<void> {
    if (!this.#status.prometheus) return;
    await stopProcess(this.#status.prometheus, 'SIGTERM', 10_000);
    delete this.#status.prometheus;
    writeStatus(this.#status);
  }

  /** Throws if a teardown started meanwhile (a signal), so the build stops early. */
  #check(): void {
    if (this.#down) throw new MeshError('MESH_ERR_CLUSTER', 'the cluster is being torn down');
  }

  async #startPods(pods: readonly PodPlan[]): Promise<void> {
    const started: StartedPod[] = [];
    for (const p of pods) {
      const rec = this.#record(p.key);
      const s = startPod(p, rec);
      if (s) { started.push(s); this.#started.set(p.key, s); }
    }
    writeStatus(this.#status);
    if (started.length) this.#progress(`started ${started.length} pod command(s); waiting for their ports`);
    await waitPodsReady(started, this.#opts.podReadyTimeoutMs ?? 15_000);
  }

  #record(key: string): PodStatusRecord {
    const r = this.#status.pods.find((p) => p.key === key);
    if (!r) throw new MeshError('MESH_ERR_INVALID_ARG', `no pod "${key}" in cluster ${this.clusterId}; pods: ${this.#status.pods.map((p) => p.key).join(', ')}`);
    return r;
  }

  #node(name: string): NodeStatus {
    const n = this.#status.nodes.find((x) => x.name === name);
    if (!n) throw new MeshError('MESH_ERR_INVALID_ARG', `no node "${name}" in cluster ${this.clusterId}; nodes: ${this.#status.nodes.map((x) => x.name).join(', ')}`);
    return n;
  }

  #render(): void {
    const byKey = new Map(this.#status.pods.map((p) => [p.key, p]));
    const uplink = new Map(this.#status.nodes.map((n) => [n.name, n.uplinkIp]));
    renderManifestDir(this.manifestsDir, this.renderedDir, (ns, name) => {
      const p = byKey.get(`${ns}/${name}`);
      return p ? { podIP: p.ip, hostIP: uplink.get(p.node)! } : undefined;
    }, (ns, name) => this.#vips.allocate(`${ns}/${name}`));
  }

  /** Applies a manifest change: pods added on known nodes are created, removed pods deleted. */
  async #reconcile(snap: ManifestSnapshot): Promise<void> {
    if (this.#down) return;
    const say = this.#progress;
    const next = planCluster(snap.resources, this.clusterId, this.#assign);
    const known = new Set(this.#status.nodes.map((n) => n.name));
    for (const n of next.nodes) if (!known.has(n.name) && next.pods.some((p) => p.node === n.name)) {
      say(`warning: node ${n.name} is new; restart the cluster to add it (its pods get no address until then)`);
    }
    const nextPods = next.pods.filter((p) => known.has(p.node));
    const current = new Map(this.#status.pods.map((p) => [p.key, p]));
    const wanted = new Map(nextPods.map((p) => [p.key, p]));
    const removed = [...current.values()].filter((r) => wanted.get(r.key)?.ip !== r.ip);
    for (const r of removed) {
      if (r.proc) await stopProcess(r.proc, 'SIGTERM', 2000);
      await killNetnsProcesses([r.netns], 1000);
      await deleteNetns([r.netns]);
      this.#started.delete(r.key);
      this.#status.pods = this.#status.pods.filter((p) => p.key !== r.key);
      say(`pod ${r.key} removed`);
    }
    const added = nextPods.filter((p) => !this.#status.pods.some((r) => r.key === p.key));
    this.#plan = { ...this.#plan, pods: [...this.#plan.pods.filter((p) => wanted.has(p.key) && !removed.some((r) => r.key === p.key)), ...added] };
    this.#assign = assignmentsOf(next, this.#assign);
    if (added.length) {
      await buildPods(this.#plan, added);
      for (const p of added) this.#status.pods.push(podRecord(p, path.join(this.runDir, 'logs', logName(p))));
      this.#status.pods.sort((a, b) => (a.key < b.key ? -1 : 1));
    }
    this.#render();
    if (this.#status.prometheus) writeTargets(prometheusPaths(this.runDir), this.#status.nodes, this.#status.controller ? `${CONTROLLER_IP}:${CONTROLLER_ADMIN_PORT}` : undefined);
    writeStatus(this.#status);
    if (added.length) {
      say(`pod(s) ${added.map((p) => `${p.key} (${p.ip})`).join(', ')} added`);
      await this.#startPods(added).catch((e: unknown) => say(`warning: ${(e as Error).message}`));
    }
  }

  // ---- handles for tests, the demo and the CLI ----

  /** Whether SIGINT/SIGTERM tear this cluster down and exit the process (a caller may handle them itself). */
  handleSignals(on: boolean): void { guardSignals(this, on); }

  get status(): ClusterStatus { return structuredClone(this.#status); }
  get nodes(): NodeInfo[] { return this.#status.nodes.map((n) => this.node(n.name)); }
  get pods(): PodInfo[] { return this.#status.pods.map((p) => this.pod(p.key)); }

  node(name: string): NodeInfo {
    const n = this.#node(name);
    const index = this.#plan.nodes.find((x) => x.name === name)?.index ?? 0;
    return { ...structuredClone(n), index, ...(n.agent ? { agentPid: n.agent.pid } : {}) };
  }

  /** A pod by "namespace/name". */
  pod(key: string): PodInfo {
    const r = this.#record(key);
    const exit = this.#started.get(key)?.exit;
    return { ...structuredClone(r), ...(r.proc ? { pid: r.proc.pid } : {}), ...(exit !== undefined ? { exitCode: exit } : {}) };
  }

  /** Runs argv in the pod's netns with the pod's environment (`nodemesh` and `node` resolve to this checkout). */
  exec(key: string, argv: readonly string[], opts: { timeoutMs?: number; input?: string; env?: Record<string, string> } = {}): Promise<ExecResult> {
    const r = this.#record(key);
    return execInNetns(r.netns, argv, { ...opts, env: { ...r.env, ...opts.env } });
  }

  /** Runs argv in a node's netns (where the agent lives). */
  execNode(node: string, argv: readonly string[], opts: { timeoutMs?: number; input?: string; env?: Record<string, string> } = {}): Promise<ExecResult> {
    const n = this.#node(node);
    return execInNetns(n.netns, argv, { ...opts, env: { NODE_NAME: n.name, ...opts.env } });
  }

  /** Starts a long-running process in a pod; down() kills it if it is still running. */
  spawnInPod(key: string, argv: readonly string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): PodProcess {
    const r = this.#record(key);
    const child = spawnInNetns(r.netns, argv, { env: { ...r.env, ...opts.env } });
    this.#children.add(child);
    const done = collect(child, opts.timeoutMs ?? 24 * 3600_000).finally(() => this.#children.delete(child));
    const pid = child.pid ?? 0;
    return { pid, child, done, kill: (sig: NodeJS.Signals = 'SIGTERM') => { if (pid) signal(pid, sig); } };
  }

  /** GET over the agent's admin unix socket (/metrics, /ready, /live, /config_dump). */
  agentGet(node: string, urlPath: string, timeoutMs = 5000): Promise<HttpResult> {
    return unixGet(this.#node(node).adminSocket, urlPath, timeoutMs);
  }

  agentPid(node: string): number {
    const n = this.#node(node);
    if (!n.agent) throw new MeshError('MESH_ERR_CLUSTER', `the agent of ${node} is not running; start it with startAgent("${node}")`);
    return n.agent.pid;
  }

  /** Stops a node's agent: SIGTERM (graceful, pins stay) or SIGKILL (a crash). */
  async stopAgent(node: string, sig: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const n = this.#node(node);
    if (!n.agent) return;
    await stopProcess(n.agent, sig, 10_000);
    delete n.agent;
    writeStatus(this.#status);
  }

  /** (Re)starts a node's agent and waits until it is ready. */
  async startAgent(node: string): Promise<void> {
    const n = this.#node(node);
    if (n.agent) throw new MeshError('MESH_ERR_CLUSTER', `the agent of ${node} is already running (pid ${n.agent.pid}); stopAgent first`);
    try {
      await startAgent(n, this.renderedDir, this.#agentOpts());
    } finally {
      writeStatus(this.#status);
    }
  }

  /** GET over the controller's admin unix socket (/metrics, /ready, /config_dump, /debug/snapshot). */
  controllerGet(urlPath: string, timeoutMs = 5000): Promise<HttpResult> {
    return unixGet(controllerPaths(this.runDir).adminSocket, urlPath, timeoutMs);
  }

  /** POST over the controller's admin unix socket: /ca/rotate, /ca/remove-old-anchors. */
  controllerPost(urlPath: string, timeoutMs = 10_000): Promise<HttpResult> {
    return unixRequest('POST', controllerPaths(this.runDir).adminSocket, urlPath, timeoutMs);
  }

  /** Where the controller keeps the mesh CA (ca.crt, tls.crt, tls.key). */
  get caDir(): string {
    return controllerPaths(this.runDir).caDir;
  }

  get controllerPid(): number | undefined {
    return this.#status.controller?.pid;
  }

  /** Stops the controller (SIGTERM or SIGKILL); agents keep serving their last config. */
  async stopController(sig: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    if (!this.#status.controller) return;
    await stopProcess(this.#status.controller, sig, 10_000);
    delete this.#status.controller;
    writeStatus(this.#status);
  }

  /** (Re)starts the controller and waits until it is ready; `extraArgs` apply to this start only. */
  async startController(extraArgs: readonly string[] = []): Promise<void> {
    if (this.#status.controller) throw new MeshError('MESH_ERR_CLUSTER', `the controller is already running (pid ${this.#status.controller.pid})`);
    this.#status.controller = await startController(this.#plan.fabricNetns, controllerPaths(this.runDir), this.renderedDir, [...(this.#opts.controllerArgs ?? []), ...extraArgs]);
    writeStatus(this.#status);
  }

  /** Tears everything down (agents, pods, pins, netns, state). Idempotent; safe after partial builds. */
  down(opts: { keepLogs?: boolean } = {}): Promise<DownReport> {
    this.#down ??= this.#teardown(opts.keepLogs ?? process.env.NODEMESH_KEEP_LOGS === '1');
    return this.#down;
  }

  async #teardown(keepLogs: boolean): Promise<DownReport> {
    this.#status.phase = 'stopping';
    this.#source.close();
    // A manifest change being applied finishes first (bounded: a pod waiting for its port is not).
    await Promise.race([this.#queue.catch(() => undefined), sleep(2000)]);
    try { writeStatus(this.#status); } catch { /* state dir gone */ }
    const alive = (r: ProcRef | undefined): r is ProcRef => r !== undefined && sameProcess(r.pid, r.startTime);
    const agents = [...this.#status.nodes.map((n) => n.agent), this.#status.controller, this.#status.prometheus].filter(alive);
    const pods = this.#status.pods.map((p) => p.proc).filter(alive);
    await Promise.all(agents.map((r) => stopProcess(r, 'SIGTERM', 5000)));
    for (const ch of this.#children) if (ch.pid) signal(ch.pid, 'SIGKILL');
    await Promise.all(pods.map((r) => stopProcess(r, 'SIGTERM', 2000)));
    const prefix = `nm-${this.clusterId}-`;
    const names = [...new Set([...planNetns(this.#plan), ...this.#status.pods.map((p) => p.netns), ...listNetns().filter((n) => n.startsWith(prefix))])];
    const processes = agents.length + pods.length + await killNetnsProcesses(names, 1000);
    const pinDirs = removePins(this.#plan.nodes.map((n) => n.pinDir));
    const netns = await deleteNetns(names);
    let logs: string | undefined;
    if (keepLogs && existsSync(path.join(this.runDir, 'logs'))) {
      logs = path.join(tmpdir(), `nodemesh-${this.clusterId}-logs`);
      rmSync(logs, { recursive: true, force: true });
      renameSync(path.join(this.runDir, 'logs'), logs);
      this.#progress(`logs kept in ${logs}`);
    }
    rmSync(this.runDir, { recursive: true, force: true });
    unguard(this);
    const left = [...listNetns().filter((n) => n.startsWith(prefix)), ...pinDirs.filter((d) => existsSync(d))];
    if (left.length) throw new MeshError('MESH_ERR_CLUSTER', `teardown of ${this.clusterId} left ${left.join(', ')}; run "nodemesh cluster down"`);
    return { processes, netns, pinDirs, stateDirs: [this.runDir], left, ...(logs ? { logsKept: logs } : {}) };
  }

  /** Last resort for process exit: SIGKILL everything recorded, delete the netns and pins. */
  teardownSync(): void {
    for (const n of this.#status.nodes) killSync(n.agent);
    killSync(this.#status.controller);
    killSync(this.#status.prometheus);
    for (const p of this.#status.pods) killSync(p.proc);
    for (const ch of this.#children) if (ch.pid) signal(ch.pid, 'SIGKILL');
    const prefix = `nm-${this.clusterId}-`;
    teardownNetnsSync([...new Set([...planNetns(this.#plan), ...this.#status.pods.map((p) => p.netns), ...listNetns().filter((n) => n.startsWith(prefix))])]);
    removePins(this.#plan.nodes.map((n) => n.pinDir));
    try { rmSync(this.runDir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
}
