// Renders a benchmark Summary as tables: aligned plain text for the terminal and GitHub Markdown
// for bench/README.md. Every number is "median (min–max)" over rounds; a missing value is "–".
// Pure: Summary (+ a few run facts) in, string out.

import { PROXIED, type CellKind, type Contender, type PathKind } from './cells.js';
import { renderMtls } from './render-mtls.js';
import type { ContenderSummary, Summary, TargetCheck } from './summary.js';
import type { Spread } from './stats.js';

export type Style = 'text' | 'md';

export interface RenderFacts {
  readonly rate: number;
  readonly msgSize: number;
  readonly seconds: number;
  readonly pingpongSeconds: number;
  readonly highRate?: number;
  readonly connParallel?: number;
}

/** A number with a precision that fits its size: 1234 → "1234", 12.34 → "12.3", 0.1234 → "0.123". */
export function fmtNum(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return '–';
  if (digits !== undefined) return v.toFixed(digits);
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

/** "median (min–max)"; just the value when there was one round or min = max. */
export function fmtSpread(s: Spread | undefined, digits?: number, signed = false): string {
  if (!s) return '–';
  const f = (v: number): string => `${signed && v > 0 ? '+' : ''}${fmtNum(v, digits)}`;
  if (s.n === 1 || s.min === s.max) return f(s.median);
  return `${f(s.median)} (${f(s.min)}…${f(s.max)})`;
}

/** Renders rows as a Markdown table or a space-aligned text table. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], style: Style): string {
  if (style === 'md') {
    const esc = (c: string): string => c.replaceAll('|', '\\|');
    const line = (cells: readonly string[]): string => `| ${cells.map(esc).join(' | ')} |`;
    return [line(headers), `|${headers.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
  }
  const widths = headers.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const pad = (c: string, w: number): string => c + ' '.repeat(Math.max(0, w - [...c].length));
  const line = (cells: readonly string[]): string => cells.map((c, i) => pad(c, widths[i]!)).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const NAMES: Readonly<Record<Contender, string>> = { direct: 'direct', nodemesh: 'nodemesh', haproxy: 'HAProxy', 'haproxy-tls': 'HAProxy-TLS' };
export const PATH_NAMES: Readonly<Record<PathKind, string>> = { same: 'same node', cross: 'cross node' };

export function findContender(s: Summary, kind: CellKind, path: PathKind, c: Contender): ContenderSummary | undefined {
  return s.cells.find((x) => x.kind === kind && x.path === path)?.contenders.find((x) => x.contender === c);
}

export function rowsOf(s: Summary, kind: CellKind, f: (c: ContenderSummary, path: PathKind) => string[]): string[][] {
  const rows: string[][] = [];
  for (const cell of s.cells.filter((c) => c.kind === kind)) {
    for (const c of cell.contenders) {
      const cols = f(c, cell.path);
      rows.push([PATH_NAMES[cell.path], `${NAMES[c.contender]} (${c.hops} hop${c.hops === 1 ? '' : 's'})`, ...cols]);
    }
  }
  return rows;
}

export function heading(text: string, style: Style): string {
  return style === 'md' ? `**${text}**` : `== ${text}`;
}

function latencyTables(s: Summary, kind: 'latency' | 'latency-hi', rate: number, facts: RenderFacts, rounds: string, style: Style): string[] {
  const out: string[] = [];
  out.push(heading(`Round-trip latency, open loop at ${rate} msg/s, ${facts.msgSize} B, ${facts.seconds} s per round — µs, ${rounds}`, style), '');
  out.push(table(
    ['path', 'contender', 'p50', 'p99', 'p99.9', 'added p50', 'added p99', 'added p99.9', 'added p50 / hop', 'added p99 / hop'],
    rowsOf(s, kind, (c) => {
      const m = c.metrics;
      return [fmtSpread(m.p50?.value), fmtSpread(m.p99?.value), fmtSpread(m.p999?.value),
        fmtSpread(m.p50?.added, undefined, true), fmtSpread(m.p99?.added, undefined, true), fmtSpread(m.p999?.added, undefined, true),
        fmtSpread(m.p50?.addedPerHop, undefined, true), fmtSpread(m.p99?.addedPerHop, undefined, true)];
    }), style), '');
  out.push(heading(`Latency ratios at ${rate} msg/s (same rounds, paired) — ${rounds}`, style), '');
  out.push(table(
    ['path', 'contender', 'p50 ÷ direct', 'p99 ÷ direct', 'p99.9 ÷ direct', 'p50 ÷ HAProxy', 'p99 ÷ HAProxy', 'p99.9 ÷ HAProxy'],
    rowsOf(s, kind, (c) => {
      const m = c.metrics;
      return [fmtSpread(m.p50?.ratioToDirect, 2), fmtSpread(m.p99?.ratioToDirect, 2), fmtSpread(m.p999?.ratioToDirect, 2),
        fmtSpread(m.p50?.ratioToHaproxy, 2), fmtSpread(m.p99?.ratioToHaproxy, 2), fmtSpread(m.p999?.ratioToHaproxy, 2)];
    }), style), '');
  return out;
}

/** All tables of a run. */
export function renderTables(s: Summary, facts: RenderFacts, style: Style): string {
  const out: string[] = [];
  const rounds = `median (min…max) over ${s.rounds} round${s.rounds === 1 ? '' : 's'}`;
  out.push(...latencyTables(s, 'latency', facts.rate, facts, rounds, style));
  if (s.cells.some((c) => c.kind === 'latency-hi')) out.push(...latencyTables(s, 'latency-hi', facts.highRate ?? 0, facts, rounds, style));
  if (s.cells.some((c) => c.kind === 'pingpong')) {
    out.push(heading(`Ping-pong, closed loop at the maximum rate, ${facts.msgSize} B, ${facts.pingpongSeconds} s per round — ${rounds}`, style), '');
    out.push(table(
      ['path', 'contender', 'round trips/s', '÷ direct', '÷ HAProxy', 'p50 µs', 'p99 µs', 'added p50 µs'],
      rowsOf(s, 'pingpong', (c) => {
        const m = c.metrics;
        return [fmtSpread(m.rate?.value, 0), fmtSpread(m.rate?.ratioToDirect, 2), fmtSpread(m.rate?.ratioToHaproxy, 2),
          fmtSpread(m.p50?.value), fmtSpread(m.p99?.value), fmtSpread(m.p50?.added, undefined, true)];
      }), style), '');
  }
  out.push(heading(`One stream (iperf3, ${facts.seconds} s per round) — ${rounds}`, style), '');
  out.push(table(
    ['path', 'contender', 'Gbit/s', '÷ direct', '÷ HAProxy', 'retransmits'],
    rowsOf(s, 'stream', (c) => [fmtSpread(c.metrics.gbps?.value, 2), fmtSpread(c.metrics.gbps?.ratioToDirect, 2),
      fmtSpread(c.metrics.gbps?.ratioToHaproxy, 2), fmtSpread(c.cost.retransmits, 0)]), style), '');
  if (s.cells.some((c) => c.kind === 'connrate')) {
    out.push(heading(`New connections (connect, ${facts.msgSize} B request, ${facts.msgSize} B reply, close; ${facts.connParallel ?? '?'} parallel loops, ${facts.seconds} s per round) — ${rounds}`, style), '');
    out.push(table(
      ['path', 'contender', 'connections/s', '÷ direct', '÷ HAProxy', '÷ HAProxy-TLS', 'p50 µs', 'p99 µs', 'failed', 'TLS handshakes client / server (resumed)', 'CPU ms / 1k conn, net'],
      rowsOf(s, 'connrate', (c) => [fmtSpread(c.metrics.rate?.value, 0), fmtSpread(c.metrics.rate?.ratioToDirect, 2), fmtSpread(c.metrics.rate?.ratioToHaproxy, 2),
        fmtSpread(c.metrics.rate?.ratioToHaproxyTls, 2), fmtSpread(c.metrics.p50?.value, 0), fmtSpread(c.metrics.p99?.value, 0), fmtSpread(c.cost.connErrors, 0),
        handshakeText(c), fmtSpread(c.cost.cpuMsPer1kRtNet)]), style), '');
  }
  out.push(heading(`Proxy cost: CPU seconds of the proxy processes (utime + stime), peak RSS — ${rounds}`, style), '');
  const costRows: string[][] = [];
  const find = (kind: CellKind, path: PathKind, c: Contender): ContenderSummary | undefined => findContender(s, kind, path, c);
  for (const path of ['same', 'cross'] as const) {
    for (const c of PROXIED) {
      const lat = find('latency', path, c);
      const hi = find('latency-hi', path, c);
      const pp = find('pingpong', path, c);
      const st = find('stream', path, c);
      const cr = find('connrate', path, c);
      if (!lat && !hi && !pp && !st && !cr) continue;
      const rss = [lat, hi, pp, st, cr].map((x) => x?.cost.peakRssMiB?.max).filter((v): v is number => v !== undefined);
      costRows.push([PATH_NAMES[path], NAMES[c],
        fmtSpread(lat?.cost.cpuMsPer1kRtNet), fmtSpread(lat?.cost.cpuMsPer1kRt), fmtSpread(hi?.cost.cpuMsPer1kRtNet),
        fmtSpread(pp?.cost.cpuMsPer1kRtNet), fmtSpread(pp?.cost.cpuMsPer1kRt),
        fmtSpread(st?.cost.cpuSecPerGBNet), fmtSpread(st?.cost.cpuSecPerGB), fmtSpread(cr?.cost.cpuMsPer1kRtNet),
        rss.length ? fmtNum(Math.max(...rss), 1) : '–']);
    }
  }
  out.push(table(['path', 'proxies', `open loop ${facts.rate}/s: CPU ms / 1k RT, net`, 'raw', `open loop ${facts.highRate ?? '–'}/s: net`, 'ping-pong: CPU ms / 1k RT, net', 'raw', 'stream: CPU s / GB, net', 'raw', 'new conns: CPU ms / 1k conn, net', 'peak RSS MiB (all)'], costRows, style), '');
  const bgText = PROXIED.filter((w) => s.backgroundCpuMsPerSec[w])
    .map((w) => `${NAMES[w]} ${fmtSpread(s.backgroundCpuMsPerSec[w])} ms/s`).join(', ');
  if (bgText) {
    out.push(`"raw" counts every CPU second of the proxy processes during the cell; "net" subtracts their background use, measured while they relay nothing (during the direct cells): ${bgText}, over both nodes.`, '');
  }
  out.push(heading('Targets (medians over rounds of paired values)', style), '');
  out.push(renderTargets(s.targets, style));
  if (s.mtlsTargets.length) out.push('', ...renderMtls(s, facts, style));
  const errs = s.cells.flatMap((c) => c.contenders.flatMap((x) => x.errors.map((e) => `${c.kind}/${c.path}/${x.contender}: ${e}`)));
  if (errs.length) out.push('', heading('Failed cells', style), '', ...errs.map((e) => `- ${e}`));
  return `${out.join('\n')}\n`;
}

/** "client / server (resumed client / server)" handshakes per round, medians. */
export function handshakeText(c: ContenderSummary): string {
  const k = c.cost;
  if (!k.handshakesClient && !k.handshakesServer) return '–';
  const m = (x: Spread | undefined): string => (x ? fmtNum(x.median, 0) : '–');
  const resumed = (k.resumedClient?.median ?? 0) > 0 || (k.resumedServer?.median ?? 0) > 0 ? ` (${m(k.resumedClient)} / ${m(k.resumedServer)})` : '';
  return `${m(k.handshakesClient)} / ${m(k.handshakesServer)}${resumed}`;
}

function verdict(t: TargetCheck): string {
  if (t.met === undefined) return 'not measured';
  if (t.met) return 'met';
  return `missed by ${fmtNum(t.missBy!)}${t.unit === 'µs' ? ' µs' : ''}`;
}

export function renderTargets(ts: readonly TargetCheck[], style: Style): string {
  return table(['target', 'path', 'goal', 'measured', 'verdict'],
    ts.map((t) => [t.name, PATH_NAMES[t.path], t.goal, t.measured === undefined ? '–' : `${fmtNum(t.measured, t.unit === '×' ? 2 : undefined)}${t.unit === 'µs' ? ' µs' : ''}`, verdict(t)]), style);
}
