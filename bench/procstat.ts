// Resource use of the proxy processes during a cell: CPU seconds (utime + stime of every thread,
// from /proc/PID/stat) and resident memory (VmRSS from /proc/PID/status), sampled every 100 ms
// while the cell runs so the peak under load is seen. A gone process counts as missing, not zero.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseProcStatTicks, parseVmRssKiB } from './parse.js';

let clkTck: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux x86-64). */
export function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Sum of utime + stime of the pids in seconds; undefined if any pid is gone. */
export function cpuSeconds(pids: readonly number[]): number | undefined {
  let ticks = 0;
  for (const pid of pids) {
    try {
      ticks += parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return undefined;
    }
  }
  return ticks / ticksPerSecond();
}

/** Sum of VmRSS of the pids in KiB; undefined if any pid is gone. */
export function rssKiB(pids: readonly number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    try {
      const v = parseVmRssKiB(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (v === undefined) return undefined;
      sum += v;
    } catch {
      return undefined;
    }
  }
  return sum;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface Usage {
  /** CPU seconds the pids used between start() and stop() */
  readonly cpuSeconds: number | undefined;
  /** highest summed RSS seen, KiB */
  readonly peakRssKiB: number | undefined;
  readonly wallSeconds: number;
}

/** Measures the pids from now until the returned function is called. */
export function measure(pids: readonly number[], sampleMs = 100): () => Usage {
  const t0 = process.hrtime.bigint();
  const cpu0 = pids.length ? cpuSeconds(pids) : undefined;
  let peak = pids.length ? rssKiB(pids) : undefined;
  const timer = pids.length ? setInterval(() => {
    const r = rssKiB(pids);
    if (r !== undefined && (peak === undefined || r > peak)) peak = r;
  }, sampleMs) : undefined;
  return () => {
    if (timer) clearInterval(timer);
    const cpu1 = pids.length ? cpuSeconds(pids) : undefined;
    const r = pids.length ? rssKiB(pids) : undefined;
    if (r !== undefined && (peak === undefined || r > peak)) peak = r;
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { cpuSeconds: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined, peakRssKiB: peak, wallSeconds };
  };
}
