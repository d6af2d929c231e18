// CPU use of the machine around a benchmark phase, from /proc: busy ticks of all CPUs and the ticks
// of the benchmark's own processes, so the report can say how much CPU something else took while
// it measured (this machine is shared). Parsers are pure; a gone pid counts as zero.

import { readFileSync } from 'node:fs';

/** busy and total ticks of the aggregate `cpu` line of /proc/stat (idle and iowait are not busy). */
export function parseCpuLine(stat: string): { busy: number; total: number } {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no aggregate cpu line in /proc/stat');
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** utime + stime ticks from /proc/PID/stat (fields 14 and 15, counted after the parenthesized comm). */
export function parsePidTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

export interface CpuSnapshot { readonly busy: number; readonly total: number; readonly ours: number }

export function cpuSnapshot(pids: readonly number[]): CpuSnapshot {
  const { busy, total } = parseCpuLine(readFileSync('/proc/stat', 'utf8'));
  let ours = 0;
  for (const pid of pids) {
    try { ours += parsePidTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { /* exited */ }
  }
  return { busy, total, ours };
}

/** % of the machine's CPU (all cores) used between two snapshots: in total, and by other processes. */
export function cpuShare(a: CpuSnapshot, b: CpuSnapshot): { busyPct: number; foreignPct: number } {
  const total = b.total - a.total;
  if (total <= 0) return { busyPct: 0, foreignPct: 0 };
  const busy = b.busy - a.busy;
  return { busyPct: (100 * busy) / total, foreignPct: (100 * Math.max(0, busy - (b.ours - a.ours))) / total };
}
