// Processes inside network namespaces: `nsenter --net=/run/netns/NS -- argv` (nsenter execs, so the
// pid is the command's own), each in its own process group so a stop reaches its children. Pod and
// agent output goes to log files; exec() captures output with a timeout like kubectl exec.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { MeshError } from '../common/errors.js';
import { ROOT } from '../native/index.js';
import { listeningPorts, sameProcess, signal, sleep, startTime, tail } from './exec.js';
import { netnsPath } from './netns.js';
import type { ProcRef } from './state.js';

export const CLI_PATH = path.join(ROOT, 'bin', 'nodemesh.js');

/** `nodemesh …` runs this checkout's CLI with this Node, and `node` is this Node, PATH or not. */
export function resolveArgv(argv: readonly string[]): string[] {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) throw new MeshError('MESH_ERR_INVALID_ARG', 'empty command; give the program to run');
  if (cmd === 'nodemesh') return [process.execPath, CLI_PATH, ...rest];
  if (cmd === 'node') return [process.execPath, ...rest];
  return [cmd, ...rest];
}

/** Our environment (PATH, HOME, …) without the test runner's markers, plus `extra`. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return { ...env, ...extra };
}

export interface SpawnOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** append stdout and stderr to this file; otherwise they are pipes */
  readonly log?: string;
}

/** Starts argv inside netns in a new process group. */
export function spawnInNetns(netns: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const full = resolveArgv(argv);
  let fd: number | undefined;
  if (opts.log) fd = openSync(opts.log, 'a');
  try {
    const stdio: StdioOptions = fd !== undefined ? ['ignore', fd, fd] : 'pipe';
    return spawn('nsenter', [`--net=${netnsPath(netns)}`, '--', ...full], { cwd: ROOT, env: childEnv(opts.env), stdio, detached: true });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A ProcRef (pid + start time) for a child that has just been spawned. */
export function procRef(child: ChildProcess): ProcRef {
  if (child.pid === undefined) throw new MeshError('MESH_ERR_COMMAND', 'could not start nsenter; is util-linux installed?');
  const t = startTime(child.pid);
  return { pid: child.pid, ...(t !== undefined ? { startTime: t } : {}) };
}

export interface ExecResult {
  /** exit code; 128+n when killed by signal n; 124 on timeout */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export function exitCode(code: number | null, sig: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (sig ? (constants.signals[sig] ?? 0) : 0);
}

/** Collects a child's output and exit; kills its process group after timeoutMs. */
export function collect(child: ChildProcess, timeoutMs: number, input?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    if (input !== undefined) child.stdin?.end(input); else child.stdin?.end();
    const timer = setTimeout(() => { timedOut = true; if (child.pid) signal(child.pid, 'SIGKILL'); }, timeoutMs);
    child.on('error', (e) => { stderr += `${e.message}\n`; });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (timedOut) stderr += `MESH_ERR_COMMAND: timed out after ${timeoutMs} ms and was killed\n`;
      resolve({ code: timedOut ? 124 : exitCode(code, sig), stdout, stderr, timedOut });
    });
  });
}

/** Runs argv inside netns and returns its exit code and output (like kubectl exec). */
export function execInNetns(netns: string, argv: readonly string[], opts: { env?: Readonly<Record<string, string>>; timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  const child = spawnInNetns(netns, argv, { ...(opts.env ? { env: opts.env } : {}) });
  return collect(child, opts.timeoutMs ?? 30_000, opts.input);
}

/** Waits until the process listens on every port, or fails naming `what` and its log. */
export async function waitForPorts(ref: ProcRef, ports: readonly number[], what: string, log: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (!sameProcess(ref.pid, ref.startTime)) {
      throw new MeshError('MESH_ERR_CLUSTER', `${what} exited during startup; its log ${log} ends with:\n${tail(log)}\nfix the pod's command and run again`);
    }
    const open = listeningPorts(ref.pid);
    const missing = ports.filter((p) => !open.has(p));
    if (missing.length === 0) return;
    if (Date.now() - t0 > timeoutMs) {
      throw new MeshError('MESH_ERR_CLUSTER', `${what} does not listen on port ${missing.join(', ')} after ${timeoutMs} ms; its log ${log} ends with:\n${tail(log)}\ncheck spec.containers[0].ports against what the command serves`);
    }
    await sleep(50);
  }
}

/** Stops a process group: `sig`, then SIGKILL after graceMs. Safe on recycled pids. */
export async function stopProcess(ref: ProcRef, sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  if (!sameProcess(ref.pid, ref.startTime)) return;
  signal(ref.pid, sig);
  const t0 = Date.now();
  while (sameProcess(ref.pid, ref.startTime)) {
    if (Date.now() - t0 > graceMs) { signal(ref.pid, 'SIGKILL'); await sleep(20); if (Date.now() - t0 > graceMs + 2000) return; }
    await sleep(20);
  }
  // A zombie is dead but still has its pid until its parent (us, or init) reaps it; wait for that.
  for (let i = 0; i < 50 && startTime(ref.pid) === ref.startTime && ref.startTime !== undefined; i++) await sleep(10);
}

/** Synchronous SIGKILL for exit handlers. */
export function killSync(ref: ProcRef | undefined): void {
  if (ref && sameProcess(ref.pid, ref.startTime)) signal(ref.pid, 'SIGKILL');
}
