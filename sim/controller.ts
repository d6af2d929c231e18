// The simulated cluster's control plane: one nodemesh controller in the fabric namespace, at
// CONTROLLER_IP on the bridge every node's uplink joins, reading the rendered manifests; per-node
// tokens it verifies; and the Service VIP allocator the API server would be (10.96.0.0/16).

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MeshError } from '../common/errors.js';
import { unixGet } from './agents.js';
import { sameProcess, sleep, tail } from './exec.js';
import { procRef, spawnInNetns, stopProcess } from './procs.js';
import type { ProcRef } from './state.js';

export const CONTROLLER_IP = '10.199.0.254';
export const CONTROLLER_GRPC_PORT = 15012;
export const CONTROLLER_ADMIN_PORT = 15014;

export interface ControllerPaths {
  readonly dir: string;
  readonly adminSocket: string;
  /** the web UI and insight API (stat, tap, explain) */
  readonly uiSocket: string;
  readonly tokensFile: string;
  readonly log: string;
  /** the mesh CA (ca.crt, tls.crt, tls.key), generated on the first start, kept across restarts */
  readonly caDir: string;
  tokenFile(node: string): string;
  stateDir(node: string): string;
}

export function controllerPaths(runDir: string): ControllerPaths {
  const dir = path.join(runDir, 'controller');
  return {
    dir,
    adminSocket: path.join(dir, 'admin.sock'),
    uiSocket: path.join(dir, 'ui.sock'),
    tokensFile: path.join(dir, 'node-tokens.json'),
    log: path.join(runDir, 'logs', 'controller.log'),
    caDir: path.join(dir, 'ca'),
    tokenFile: (node) => path.join(runDir, 'tokens', node),
    stateDir: (node) => path.join(runDir, 'agent-state', node),
  };
}

/** Issues one random token per node: the controller's file and one file per agent. */
export function issueTokens(p: ControllerPaths, nodes: readonly string[]): void {
  mkdirSync(p.dir, { recursive: true });
  const tokens: Record<string, string> = {};
  for (const n of nodes) {
    tokens[n] = randomBytes(24).toString('hex');
    mkdirSync(path.dirname(p.tokenFile(n)), { recursive: true });
    writeFileSync(p.tokenFile(n), `${tokens[n]}\n`, { mode: 0o600 });
  }
  writeFileSync(p.tokensFile, JSON.stringify(tokens, null, 2), { mode: 0o600 });
}

/** Starts the controller in the fabric netns and waits for its /ready. */
export async function startController(fabricNetns: string, p: ControllerPaths, renderedDir: string, extraArgs: readonly string[] = [], timeoutMs = 30_000): Promise<ProcRef> {
  mkdirSync(p.dir, { recursive: true });
  const argv = ['nodemesh', 'controller', '--manifests', renderedDir, '--node-tokens', p.tokensFile, '--admin-socket', p.adminSocket, '--grpc-port', String(CONTROLLER_GRPC_PORT), '--admin-port', String(CONTROLLER_ADMIN_PORT), '--ca-dir', p.caDir, '--ui-socket', p.uiSocket, ...extraArgs];
  const child = spawnInNetns(fabricNetns, argv, { log: p.log, env: {} });
  child.on('error', () => undefined);
  const ref = procRef(child);
  const t0 = Date.now();
  let last = 'no answer yet';
  for (;;) {
    if (!sameProcess(ref.pid, ref.startTime)) throw new MeshError('MESH_ERR_CLUSTER', `the controller exited during startup; ${p.log} ends with:\n${tail(p.log)}`);
    try {
      const r = await unixGet(p.adminSocket, '/ready', 1000);
      if (r.status === 200) return ref;
      last = `${r.status} ${r.body.trim()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() - t0 > timeoutMs) {
      await stopProcess(ref, 'SIGTERM', 3000);
      throw new MeshError('MESH_ERR_CLUSTER', `the controller is not ready after ${timeoutMs} ms (last /ready: ${last}); ${p.log} ends with:\n${tail(p.log)}`);
    }
    await sleep(100);
  }
}

/** Hands out Service VIPs from 10.96.0.0/16, stable per service for the cluster's life. */
export class VipAllocator {
  #byKey = new Map<string, string>();
  #next = 10;

  allocate(key: string): string {
    let ip = this.#byKey.get(key);
    if (!ip) {
      const n = this.#next++;
      if (n > 65_000) throw new MeshError('MESH_ERR_CLUSTER', 'the simulated service range 10.96.0.0/16 is exhausted');
      ip = `10.96.${n >> 8}.${n & 0xff}`;
      this.#byKey.set(key, ip);
    }
    return ip;
  }
}
