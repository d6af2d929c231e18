// Process plumbing for the real-cluster test harness: where the self-built binaries live, free
// loopback ports, running a command to completion, and a detached "reaper" shell that kills our
// daemons and removes their temp dir if the test process dies without calling stop() (even SIGKILL).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeshError } from '../../common/errors.js';

/** Repository root, from either test/kube/*.ts (tsx) or dist/test/kube/*.js (compiled). */
export const REPO_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (dir !== path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && path.basename(dir) !== 'dist') return dir;
    dir = path.dirname(dir);
  }
  throw new Error('test/kube: cannot find the repository root (package.json)');
})();

export const KUBE_BIN_DIR = process.env.NODEMESH_KUBE_BIN ?? path.join(REPO_ROOT, 'build', 'kube', 'bin');

export type KubeTool = 'kube-apiserver' | 'etcd' | 'kubectl' | 'helm';

/** Path of a binary built by scripts/build-kube.sh; throws MESH_ERR_NOT_BUILT when absent. */
export function kubeBin(tool: KubeTool): string {
  const p = path.join(KUBE_BIN_DIR, tool);
  if (!existsSync(p)) throw new MeshError('MESH_ERR_NOT_BUILT', `${p} is missing: run bash scripts/build-kube.sh`);
  return p;
}

/** The tools that are missing from build/kube/bin (empty when all are built). */
export function missingKubeTools(tools: readonly KubeTool[] = ['kube-apiserver', 'etcd', 'kubectl', 'helm']): KubeTool[] {
  return tools.filter((t) => !existsSync(path.join(KUBE_BIN_DIR, t)));
}

/**
 * Test gate for the kube tier, like the netns tiers' root gate: binaries missing → a visible skip
 * locally, a failure under CI=true (CI must build them with scripts/build-kube.sh).
 */
export function kubeGate(tools?: readonly KubeTool[]): string | false {
  const missing = missingKubeTools(tools);
  if (missing.length === 0) return false;
  const msg = `${missing.join(', ')} not built in ${KUBE_BIN_DIR}: run bash scripts/build-kube.sh`;
  if (process.env.CI === 'true') throw new MeshError('MESH_ERR_NOT_BUILT', msg);
  return msg;
}

/** `n` distinct loopback TCP ports that were free a moment ago (all held open until all are picked). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => {
    const addr = s.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

export interface RunResult { readonly code: number; readonly stdout: string; readonly stderr: string }

/** Runs a command to completion (never throws on a non-zero exit; the caller checks `code`). */
export function run(cmd: string, args: readonly string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (signal ? `\n(killed by ${signal})` : '');
      resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

/**
 * Starts the reaper: a detached shell that waits for this process to die, then SIGKILLs every
 * process group listed in `pidFile` and removes `dir`. Killed by stop() once cleanup is done.
 */
export function startReaper(pidFile: string, dir: string): ChildProcess {
  const script = [
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
    'for p in $(cat "$2" 2>/dev/null); do kill -KILL "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; done',
    'sleep 0.5; rm -rf -- "$3"',
  ].join('\n');
  const child = spawn('/bin/sh', ['-c', script, 'nm-kube-reaper', String(process.pid), pidFile, dir], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

/** Sends `signal` to a detached child's whole process group; false if it was already gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Resolves when the child has exited, or after `ms` (false then). */
export function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}
