// Running external commands for the simulator: execFile with argument arrays (never a shell),
// `ip -batch` for many iproute2 commands in one process, process start times for safe kills, and
// small /proc readers (listening ports per netns, liveness).

import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { MeshError } from '../common/errors.js';

export interface RunResult { readonly stdout: string; readonly stderr: string }

/** Runs a command; a non-zero exit is MESH_ERR_COMMAND carrying the command line and its stderr. */
export function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const what = `${cmd} ${args.join(' ')}`.slice(0, 300);
        const why = (stderr || err.message).trim().split('\n').slice(-5).join(' | ');
        const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `; install ${cmd} (npm run setup)` : '';
        reject(new MeshError('MESH_ERR_COMMAND', `${what} failed: ${why}${hint}`, { cause: err }));
        return;
      }
      resolve({ stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs iproute2 commands in one `ip -batch` process, inside `netns` when given. */
export async function ipBatch(netns: string | null, lines: readonly string[], opts: { force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  const args = [...(netns ? ['-n', netns] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
  try {
    await run('ip', args, { input: `${lines.join('\n')}\n` });
  } catch (e) {
    if (opts.force) return;
    const m = /Command failed -:(\d+)/.exec((e as Error).message);
    const line = m ? lines[Number(m[1]) - 1] : undefined;
    throw new MeshError('MESH_ERR_COMMAND', `ip${netns ? ` -n ${netns}` : ''} ${line ?? '(batch)'}: ${(e as Error).message}`, { cause: e });
  }
}

/** Synchronous variant for exit handlers: best effort, never throws. */
export function ipBatchSync(netns: string | null, lines: readonly string[]): void {
  if (lines.length === 0) return;
  try {
    execFileSync('ip', [...(netns ? ['-n', netns] : []), '-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'ignore'], timeout: 20_000 });
  } catch { /* best effort */ }
}

/** Names of all network namespaces in /run/netns. */
export function listNetns(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
  } catch {
    return [];
  }
}

/** Pids of the processes inside a netns (`ip netns pids`). */
export function netnsPids(netns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
  } catch {
    return [];
  }
}

/** Start time of a process in clock ticks since boot (/proc/PID/stat field 22), or undefined if gone. */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** True when pid is alive and, if `started` is given, is still the process that was recorded. */
export function sameProcess(pid: number, started?: number): boolean {
  const t = startTime(pid);
  if (t === undefined) return false;
  if (/^State:\s+Z/m.test(readFileSafe(`/proc/${pid}/status`))) return false;
  return started === undefined || t === started;
}

function readFileSafe(p: string): string {
  try { return readFileSync(p, 'utf8'); } catch { return ''; }
}

/** TCP ports in LISTEN state in the network namespace of `pid` (its /proc/PID/net/tcp{,6}). */
export function listeningPorts(pid: number): Set<number> {
  const ports = new Set<number>();
  for (const f of ['tcp', 'tcp6']) {
    for (const line of readFileSafe(`/proc/${pid}/net/${f}`).split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== '0A') continue;
      const port = parseInt(cols[1]?.split(':')[1] ?? '', 16);
      if (Number.isInteger(port)) ports.add(port);
    }
  }
  return ports;
}

/** Sends a signal to a process group (or the process), ignoring ESRCH. */
export function signal(pid: number, sig: NodeJS.Signals, group = true): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    try { process.kill(pid, sig); } catch { /* gone */ }
  }
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  const t = readFileSafe(file).trimEnd();
  if (!t) return '(log is empty)';
  return t.split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
