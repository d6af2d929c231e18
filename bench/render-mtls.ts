// The mTLS section of the bench report (issue 12): nodemesh's cross-node path (HBONE, mutual TLS 1.3)
// against HAProxy with mutual TLS 1.3 between its two instances, direct and plain HAProxy beside
// them — latency at the high rate, ping-pong, one stream, new connections, handshakes, CPU — and
// the mTLS targets. Pure: Summary in, lines out.

import type { Contender } from './cells.js';
import { findContender, fmtSpread, handshakeText, heading, renderTargets, table, type RenderFacts, type Style } from './render.js';
import type { Summary } from './summary.js';

const ROWS: readonly [Contender, string][] = [
  ['direct', 'direct (no proxy)'],
  ['nodemesh', 'nodemesh (HBONE: mTLS 1.3, pooled)'],
  ['haproxy-tls', 'HAProxy-TLS (mTLS 1.3 between the instances)'],
  ['haproxy', 'HAProxy (plain TCP, reference)'],
];

export function renderMtls(s: Summary, facts: RenderFacts, style: Style): string[] {
  const hiRan = s.cells.some((c) => c.kind === 'latency-hi' && c.path === 'cross');
  const lat = hiRan ? 'latency-hi' : 'latency';
  const rate = hiRan ? facts.highRate : facts.rate;
  const rounds = `median (min…max) over ${s.rounds} round${s.rounds === 1 ? '' : 's'}`;
  const perf: string[][] = [];
  const cost: string[][] = [];
  for (const [c, name] of ROWS) {
    const l = findContender(s, lat, 'cross', c);
    const pp = findContender(s, 'pingpong', 'cross', c);
    const st = findContender(s, 'stream', 'cross', c);
    const cr = findContender(s, 'connrate', 'cross', c);
    if (!l && !pp && !st && !cr) continue;
    perf.push([name,
      fmtSpread(l?.metrics.p50?.value), fmtSpread(l?.metrics.p99?.value), fmtSpread(l?.metrics.p999?.value), fmtSpread(l?.metrics.p50?.addedPerHop, undefined, true),
      fmtSpread(pp?.metrics.rate?.value, 0), fmtSpread(pp?.metrics.p50?.value),
      fmtSpread(st?.metrics.gbps?.value, 2),
      fmtSpread(cr?.metrics.rate?.value, 0), fmtSpread(cr?.metrics.p50?.value, 0), fmtSpread(cr?.metrics.p99?.value, 0),
      cr ? handshakeText(cr) : '–']);
    if (c !== 'direct') {
      cost.push([name, fmtSpread(st?.cost.cpuSecPerGBNet), fmtSpread(st?.cost.cpuSecPerGB), fmtSpread(pp?.cost.cpuMsPer1kRtNet), fmtSpread(pp?.cost.cpuMsPer1kRt),
        fmtSpread(l?.cost.cpuMsPer1kRtNet), fmtSpread(cr?.cost.cpuMsPer1kRtNet)]);
    }
  }
  const mesh = (k: 'stream' | 'pingpong' | 'connrate' | typeof lat) => findContender(s, k, 'cross', 'nodemesh');
  const ratio = [
    `stream ${fmtSpread(mesh('stream')?.metrics.gbps?.ratioToHaproxyTls, 2)}`,
    `ping-pong round trips/s ${fmtSpread(mesh('pingpong')?.metrics.rate?.ratioToHaproxyTls, 2)}`,
    `p50 at ${rate} msg/s ${fmtSpread(mesh(lat)?.metrics.p50?.ratioToHaproxyTls, 2)}`,
    `p99 ${fmtSpread(mesh(lat)?.metrics.p99?.ratioToHaproxyTls, 2)}`,
    `new connections/s ${fmtSpread(mesh('connrate')?.metrics.rate?.ratioToHaproxyTls, 2)}`,
  ].join('; ');
  return [
    heading(`mTLS, cross node (2 hops, the hop between the nodes mutually authenticated TLS 1.3, ECDSA P-256) — ${rounds}`, style), '',
    table(['contender', `p50 µs at ${rate}/s`, 'p99', 'p99.9', 'added p50 / hop', 'ping-pong RT/s', 'ping-pong p50 µs', 'one stream Gbit/s',
      'new conn/s', 'conn p50 µs', 'conn p99 µs', 'TLS handshakes in the conn cell, client / server (resumed)'], perf, style), '',
    `nodemesh ÷ HAProxy-TLS, paired per round: ${ratio}.`, '',
    heading(`mTLS: proxy CPU (both nodes) — ${rounds}`, style), '',
    table(['proxies', 'stream: CPU s / GB, net', 'raw', 'ping-pong: CPU ms / 1k RT, net', 'raw', `open loop ${rate}/s: CPU ms / 1k RT, net`, 'new conns: CPU ms / 1k conn, net'], cost, style), '',
    heading('mTLS targets (medians over rounds of paired values)', style), '',
    renderTargets(s.mtlsTargets, style),
  ];
}
