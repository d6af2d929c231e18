// Parsers for the new-connection cell and the TLS handshake counts: connrate's JSON line
// (bench/tools/connrate.c), HAProxy's stats socket answers (`show info`, `show stat` CSV with the SSL
// module's ssl_sess / ssl_reused_sess columns) and the Tcp counters of /proc/net/snmp. Pure.

import { ParseError } from './parse.js';

export interface ConnrateResult {
  readonly connections: number;
  readonly errors: number;
  readonly seconds: number;
  readonly parallel: number;
  /** connection time (connect() start to close, request and reply included), µs */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly firstError: string | undefined;
}

/** Parses connrate's one-line JSON report (the last line that is an object). */
export function parseConnrate(raw: string): ConnrateResult {
  const line = raw.trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
  if (!line) throw new ParseError(`connrate printed no JSON report: ${raw.trim().slice(0, 200)}`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new ParseError(`connrate's report is not JSON: ${line.slice(0, 200)}`);
  }
  const n = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ParseError(`connrate's report has no number "${k}": ${line.slice(0, 200)}`);
    return v;
  };
  return {
    connections: n('connections'), errors: n('errors'), seconds: n('seconds'), parallel: n('parallel'),
    p50: n('p50_us'), p90: n('p90_us'), p99: n('p99_us'), p999: n('p999_us'), max: n('max_us'),
    firstError: typeof o.first_error === 'string' ? o.first_error : undefined,
  };
}

/** `show info`: "Name: value" lines → map (values kept as text). */
export function parseHaproxyInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}

/** `show stat`: the CSV (header "# pxname,svname,…") → one record per row, by column name. */
export function parseHaproxyStat(csv: string): Record<string, string>[] {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const head = lines.find((l) => l.startsWith('# '));
  if (!head) throw new ParseError(`not a "show stat" CSV (no "# pxname,…" header): ${csv.trim().slice(0, 120)}`);
  const cols = head.slice(2).split(',');
  return lines.filter((l) => !l.startsWith('#')).map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}

export interface SslSessions {
  /** handshakes that established a new session (full handshake: certificates signed and verified) */
  readonly full: number;
  /** handshakes that resumed a session (TLS 1.3 PSK, no certificates) */
  readonly resumed: number;
  readonly failed: number;
}

/**
 * TLS handshakes counted by HAProxy's SSL stats module, summed over the rows of one kind:
 * `server` rows count the handshakes HAProxy made as a client, `frontend` rows those it accepted.
 */
export function haproxySsl(rows: readonly Record<string, string>[], kind: 'server' | 'frontend'): SslSessions {
  const pick = rows.filter((r) => (kind === 'frontend' ? r.svname === 'FRONTEND' : r.svname !== 'FRONTEND' && r.svname !== 'BACKEND'));
  if (pick.length && !('ssl_sess' in pick[0]!)) throw new ParseError('"show stat" has no ssl_sess column (HAProxy without the SSL stats module?)');
  const sum = (col: string): number => pick.reduce((a, r) => a + (Number(r[col]) || 0), 0);
  // the two are exclusive: ssl_sess counts new sessions only (checked: 7 + 4533 = 4540 connections)
  return { full: sum('ssl_sess'), resumed: sum('ssl_reused_sess'), failed: sum('ssl_failed_handshake') };
}

/** A counter of the "Tcp:" lines of /proc/net/snmp (e.g. PassiveOpens, ActiveOpens). */
export function snmpTcp(text: string, name: string): number {
  const rows = text.split('\n').filter((l) => l.startsWith('Tcp:'));
  if (rows.length < 2) throw new ParseError('no "Tcp:" header and value lines in /proc/net/snmp');
  const names = rows[0]!.split(/\s+/).slice(1);
  const values = rows[1]!.split(/\s+/).slice(1);
  const i = names.indexOf(name);
  const v = i < 0 ? NaN : Number(values[i]);
  if (!Number.isFinite(v)) throw new ParseError(`/proc/net/snmp has no Tcp counter ${name}`);
  return v;
}
