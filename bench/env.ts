// What a benchmark run depends on besides its traffic: the knobs (BENCH_* environment variables,
// validated), the machine (CPU, memory, kernel, tool versions), the build measured (git commit,
// addon and BPF object hashes) and an optional perf profile of the proxy processes.

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface BenchConfig {
  readonly rounds: number;
  readonly seconds: number;
  readonly rate: number;
  readonly msgSize: number;
  /** 0 skips the ping-pong cells */
  readonly pingpongSeconds: number;
  /** messages per second of the second open-loop cell (the mTLS comparison's); 0 skips it */
  readonly highRate: number;
  /** parallel loops of the new-connection cell; 0 skips it */
  readonly connParallel: number;
  readonly profile: boolean;
  /** copy the addon and the BPF object before starting, so a concurrent rebuild cannot crash the agents */
  readonly snapshot: boolean;
}

/** An integer knob from the environment, with its default and range (shared with bench/scale). */
export function int(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name}=${raw}: expected an integer from ${min} to ${max}`);
  return v;
}

function flag(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new RangeError(`${name}=${raw}: expected 1 or 0`);
}

export function readConfig(env: NodeJS.ProcessEnv): BenchConfig {
  return {
    rounds: int(env, 'BENCH_ROUNDS', 3, 1, 100),
    seconds: int(env, 'BENCH_SECONDS', 5, 1, 600),
    rate: int(env, 'BENCH_RATE', 1000, 1, 1_000_000),
    msgSize: int(env, 'BENCH_MSG_SIZE', 1024, 14, 65_000),
    pingpongSeconds: int(env, 'BENCH_PINGPONG_SECONDS', 2, 0, 600),
    highRate: int(env, 'BENCH_HIGH_RATE', 10_000, 0, 1_000_000),
    connParallel: int(env, 'BENCH_CONN_PARALLEL', 16, 0, 1024),
    profile: flag(env, 'BENCH_PROFILE', false),
    snapshot: flag(env, 'BENCH_SNAPSHOT', true),
  };
}

function sh(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    const o = e as { stdout?: string; stderr?: string };
    return `${o.stdout ?? ''}${o.stderr ?? ''}`.trim();
  }
}

export interface Machine {
  readonly nproc: number;
  readonly memGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly cpu: string;
  readonly tools: Readonly<Record<string, string>>;
}

export function machine(): Machine {
  const cpuinfo = (() => { try { return readFileSync('/proc/cpuinfo', 'utf8'); } catch { return ''; } })();
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const first = (s: string): string => s.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  return {
    nproc: os.availableParallelism(),
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    cpu,
    tools: {
      sockperf: first(sh('sockperf', ['--version']).split('\n').filter((l) => /version/i.test(l)).join('\n')),
      iperf3: first(sh('iperf3', ['--version'])),
      haproxy: first(sh('haproxy', ['-v'])),
      openssl: first(sh('openssl', ['version'])),
    },
  };
}

function hashFile(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
  } catch {
    return 'missing';
  }
}

export interface Build {
  readonly commit: string;
  /** files `git status --porcelain` lists (the measured tree may hold uncommitted work) */
  readonly uncommittedFiles: number;
  readonly addonSha256: string;
  readonly bpfObjectSha256: string;
}

export function build(root: string, addon: string, bpfObject: string): Build {
  const status = sh('git', ['-C', root, 'status', '--porcelain']);
  return {
    commit: sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
    uncommittedFiles: status ? status.split('\n').length : 0,
    addonSha256: hashFile(addon),
    bpfObjectSha256: hashFile(bpfObject),
  };
}

/** CPU ticks of the whole machine from /proc/stat: busy, steal and total. */
export function cpuTicks(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, steal: v[7] ?? 0, total };
}

export interface Load {
  /** share of all CPUs busy (0–1) over the window, steal included */
  readonly busy: number;
  /** share stolen by the hypervisor */
  readonly steal: number;
  readonly loadavg: string;
  /** other simulated clusters (nm-<id>-* network namespaces) present: concurrent test runs */
  readonly otherClusters: readonly string[];
}

/** How busy the machine is over `ms` (before the run: anything busy is someone else's). */
export async function load(ms: number, ownCluster?: string): Promise<Load> {
  const a = cpuTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTicks();
  const total = Math.max(1, b.total - a.total);
  return {
    busy: (b.busy - a.busy) / total,
    steal: (b.steal - a.steal) / total,
    loadavg: loadavg(),
    otherClusters: otherClusters(ownCluster),
  };
}

export function loadavg(): string {
  try { return readFileSync('/proc/loadavg', 'utf8').trim(); } catch { return ''; }
}

/** Ids of the simulated clusters (nm-<id>-* network namespaces) other than ours. */
export function otherClusters(own?: string): string[] {
  const ids = sh('ip', ['netns', 'list']).split('\n').map((l) => /^nm-([0-9a-f]+)-/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
  return [...new Set(ids)].filter((id) => id !== own);
}

/**
 * Samples the pids' stacks with `perf record -g` for `seconds` while the caller runs load, then
 * returns `perf report` summaries (by symbol, and by shared object); undefined when perf fails.
 */
export async function profile(pids: readonly number[], seconds: number, dataFile: string): Promise<string | undefined> {
  const rec = spawn('perf', ['record', '-F', '999', '-g', '-o', dataFile, '-p', pids.join(','), '--', 'sleep', String(seconds)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  rec.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const code = await new Promise<number | null>((resolve) => { rec.on('close', resolve); rec.on('error', () => resolve(-1)); });
  if (code !== 0) return `perf record failed (${code}): ${err.trim().slice(-300)}`;
  const report = (...args: string[]): string => sh('perf', ['report', '-i', dataFile, '--stdio', '--no-children', ...args]);
  const strip = (s: string, n: number): string => s.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/(\s+-)+\s*$/, '').trimEnd()).slice(0, n).join('\n');
  const bySym = report('-g', 'none', '--percent-limit', '0.7', '--sort', 'comm,dso,symbol');
  const byDso = report('-g', 'none', '--sort', 'dso');
  // who calls the hottest symbols (≥ 5 % self): the kernel paths behind them
  const callers = report('-g', 'caller,0.5,callee,function,percent', '--percent-limit', '5', '--sort', 'symbol');
  return `-- by thread, object and symbol (self time, ≥ 0.7 %)\n${strip(bySym, 40)}\n\n-- by object\n${strip(byDso, 10)}\n\n`
    + `-- call chains into the symbols with ≥ 5 % self time\n${strip(callers, 120)}\n`;
}
