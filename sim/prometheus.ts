// A real Prometheus (Debian's `prometheus`) for the simulated cluster, in the fabric netns at
// PROMETHEUS_IP where it reaches the controller (CONTROLLER_IP:15014) and every agent (uplink:15020):
// file-based discovery the cluster writes (labels node, component), deploy/prometheus/rules.yaml
// loaded, data under the cluster's run dir. Nothing in the mesh depends on it.

import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MeshError } from '../common/errors.js';
import { ROOT } from '../native/index.js';
import { sameProcess, sleep, tail } from './exec.js';
import { execInNetns, procRef, spawnInNetns, stopProcess } from './procs.js';
import type { ProcRef } from './state.js';

/** Prometheus' own address on the fabric bridge (nodes are 10.199.0.<index>, the controller .254). */
export const PROMETHEUS_IP = '10.199.0.253';
export const PROMETHEUS_PORT = 9090;
export const AGENT_ADMIN_PORT = 15020;
/** The plain rules file this Prometheus evaluates (the PrometheusRule is generated from it). */
export const RULES_FILE = path.join(ROOT, 'deploy', 'prometheus', 'rules.yaml');

export interface PrometheusOptions {
  /** scrape and rule evaluation interval, seconds (default 2: short, for tests and the demo) */
  readonly intervalSeconds?: number;
}

export interface PrometheusPaths {
  readonly dir: string;
  readonly config: string;
  readonly targets: string;
  readonly data: string;
  readonly log: string;
}

export function prometheusPaths(runDir: string): PrometheusPaths {
  const dir = path.join(runDir, 'prometheus');
  return { dir, config: path.join(dir, 'prometheus.yml'), targets: path.join(dir, 'targets.json'), data: path.join(dir, 'data'), log: path.join(runDir, 'logs', 'prometheus.log') };
}

export interface ScrapeNode { readonly name: string; readonly uplinkIp: string }

/** The file_sd target groups: the controller (when there is one) and one agent per node. */
export function targetGroups(nodes: readonly ScrapeNode[], controller: string | undefined): object[] {
  return [
    ...(controller ? [{ targets: [controller], labels: { component: 'controller' } }] : []),
    ...nodes.map((n) => ({ targets: [`${n.uplinkIp}:${AGENT_ADMIN_PORT}`], labels: { component: 'agent', node: n.name } })),
  ];
}

/** prometheus.yml: one job over the file_sd targets; the scraped `node` label is kept (honor_labels). */
export function prometheusConfig(p: PrometheusPaths, clusterId: string, intervalSeconds: number): string {
  const iv = `${intervalSeconds}s`;
  return [
    '# written by the nodemesh simulated cluster (sim/prometheus.ts); removed at cluster down',
    'global:',
    `  scrape_interval: ${iv}`,
    `  scrape_timeout: ${iv}`,
    `  evaluation_interval: ${iv}`,
    `  external_labels: { cluster: ${JSON.stringify(clusterId)} }`,
    'rule_files:',
    `  - ${JSON.stringify(RULES_FILE)}`,
    'scrape_configs:',
    '  - job_name: nodemesh',
    '    honor_labels: true',
    '    file_sd_configs:',
    `      - files: [${JSON.stringify(p.targets)}]`,
    '        refresh_interval: 5s',
    '',
  ].join('\n');
}

/** Writes the targets file atomically (Prometheus watches it and picks up changes within seconds). */
export function writeTargets(p: PrometheusPaths, nodes: readonly ScrapeNode[], controller: string | undefined): void {
  mkdirSync(p.dir, { recursive: true });
  const tmp = `${p.targets}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(targetGroups(nodes, controller), null, 2)}\n`);
  renameSync(tmp, p.targets);
}

export interface PromResult { readonly status: number; readonly body: string }

/** GET `urlPath` on the cluster's Prometheus (curl inside the fabric netns; the host has no route to it). */
export async function prometheusGet(fabricNetns: string, urlPath: string, timeoutMs = 10_000): Promise<PromResult> {
  const r = await execInNetns(fabricNetns, ['curl', '-sS', '-m', String(Math.ceil(timeoutMs / 1000)), '-w', '\n%{http_code}', `http://${PROMETHEUS_IP}:${PROMETHEUS_PORT}${urlPath}`], { timeoutMs: timeoutMs + 2000 });
  if (r.code !== 0) throw new MeshError('MESH_ERR_COMMAND', `GET ${urlPath} on Prometheus (${PROMETHEUS_IP}:${PROMETHEUS_PORT} in ${fabricNetns}) failed: ${r.stderr.trim()}; is it running (see its log)?`);
  const cut = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
}

/** Starts Prometheus in the fabric netns (PROMETHEUS_IP must be on the bridge) and waits for /-/ready. */
export async function startPrometheus(fabricNetns: string, p: PrometheusPaths, clusterId: string, opts: PrometheusOptions = {}, timeoutMs = 30_000): Promise<ProcRef> {
  if (!existsSync('/usr/bin/prometheus')) throw new MeshError('MESH_ERR_NO_TOOL', 'prometheus is not installed; run "npm run setup" (Debian package prometheus) or apt-get install --no-install-recommends prometheus');
  mkdirSync(p.data, { recursive: true });
  mkdirSync(path.dirname(p.log), { recursive: true });
  writeFileSync(p.config, prometheusConfig(p, clusterId, opts.intervalSeconds ?? 2));
  const argv = ['/usr/bin/prometheus', `--config.file=${p.config}`, `--storage.tsdb.path=${p.data}`, '--storage.tsdb.retention.time=1d',
    `--web.listen-address=${PROMETHEUS_IP}:${PROMETHEUS_PORT}`, '--log.level=warn'];
  const child = spawnInNetns(fabricNetns, argv, { log: p.log, env: {} });
  child.on('error', () => undefined);
  const ref = procRef(child);
  const t0 = Date.now();
  let last = 'no answer yet';
  for (;;) {
    if (!sameProcess(ref.pid, ref.startTime)) throw new MeshError('MESH_ERR_CLUSTER', `prometheus exited during startup; ${p.log} ends with:\n${tail(p.log)}`);
    try {
      const r = await prometheusGet(fabricNetns, '/-/ready', 2000);
      if (r.status === 200) return ref;
      last = `${r.status} ${r.body.trim()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() - t0 > timeoutMs) {
      await stopProcess(ref, 'SIGTERM', 3000);
      throw new MeshError('MESH_ERR_CLUSTER', `prometheus is not ready after ${timeoutMs} ms (last /-/ready: ${last}); ${p.log} ends with:\n${tail(p.log)}`);
    }
    await sleep(200);
  }
}
