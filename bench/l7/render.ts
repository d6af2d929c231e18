// Tables of the L7 bench (text for the terminal, Markdown for bench/results/l7-latest.md and the
// README): per cell the contenders' latency percentiles, rate, errors, CPU and RSS as medians over
// rounds (min–max when rounds differ), added latency over direct, ratios vs nginx, and the aims.

import type { Spread } from '../stats.js';
import type { L7Row, L7Summary } from './summary.js';

const f = (v: number | undefined, d = 2): string => (v === undefined ? '–' : v.toFixed(d));

/** median, with [min–max] when the rounds spread */
export function cellText(s: Spread | undefined, d = 2, unit = ''): string {
  if (!s) return '–';
  const m = `${f(s.median, d)}${unit}`;
  return s.n > 1 && s.min !== s.max ? `${m} [${f(s.min, d)}–${f(s.max, d)}]` : m;
}

function table(head: readonly string[], body: readonly (readonly string[])[], md: boolean): string {
  if (md) return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(head), ...body.map(line)].join('\n');
}

function row(r: L7Row): string[] {
  const ratios = [r.cpuVsNginx ? `cpu ${cellText(r.cpuVsNginx)}×` : '', r.rpsVsNginx ? `rps ${cellText(r.rpsVsNginx)}×` : '',
    r.cpuVsNginxTls ? `tls: cpu ${cellText(r.cpuVsNginxTls)}× rps ${cellText(r.rpsVsNginxTls)}×` : ''].filter(Boolean).join('; ');
  return [
    r.path, r.contender, cellText(r.p50, 3), cellText(r.p90, 3), cellText(r.p99, 3), cellText(r.p999, 3),
    cellText(r.addedP50, 3), cellText(r.addedP99, 3), cellText(r.rps, 0), cellText(r.errors, 0),
    cellText(r.cpuMsPer1kReq, 1), cellText(r.peakRssMiB, 0), ratios || '–',
    r.failed ? `${r.failed} failed: ${(r.firstError ?? '').slice(0, 120)}` : '',
  ];
}

export function renderL7(summary: L7Summary, md: boolean): string {
  const head = ['path', 'contender', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', '+p50 ms', '+p99 ms', 'rps', 'errors', 'cpu ms/1k req', 'peak RSS MiB', 'vs nginx', 'failures'];
  const cells = [...new Set(summary.rows.map((r) => r.cell))];
  const out: string[] = [];
  for (const c of cells) {
    const rows = summary.rows.filter((r) => r.cell === c);
    const title = c.startsWith('ttfb') ? `${c} (latency = TCP connect → first response byte)` : c;
    out.push(md ? `#### ${title}` : `== ${title}`, '', table(head, rows.map(row), md), '');
  }
  out.push(md ? '#### Aims (issue 13)' : '== Aims (issue 13)', '');
  out.push(table(['aim', 'cell', 'path', 'median', 'bound', 'met'], summary.aims.map((a) => [a.name, a.cell, a.path, f(a.value, 3), a.bound, a.met === undefined ? 'no data' : a.met ? 'yes' : 'NO']), md), '');
  return `${out.join('\n')}\n`;
}
