// The L7 bench's arithmetic: spreads over rounds, latency added over direct paired per round (a
// uniformly noisy round cancels), ratios against nginx and nginx-tls, failed rounds skipped and
// counted, the aims met and missed, and the rendered tables.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { L7Sample } from '../../../bench/l7/cells.js';
import { renderL7 } from '../../../bench/l7/render.js';
import type { L7Contender, PathKind } from '../../../bench/l7/setup.js';
import { aimsOf, summarizeL7 } from '../../../bench/l7/summary.js';

function s(round: number, cell: string, path: PathKind, contender: L7Contender, p50: number, p99: number, extra: Partial<L7Sample> = {}): L7Sample {
  const hops = contender === 'direct' ? 0 : path === 'same' ? 1 : 2;
  return { round, cell, tool: cell.startsWith('ttfb') ? 'ttfb' : 'fortio', path, contender, hops, p50, p90: p50 * 1.5, p99, p999: p99 * 2, max: p99 * 3, requests: 5000, errors: 0, rps: 1000, wallSeconds: 5, ...extra };
}

const C = 'h1 1k rps ×4';
const M = 'h1 max ×64';
// round 1 is +1 ms slower everywhere: the paired difference is the same in both rounds
const samples: L7Sample[] = [
  s(0, C, 'cross', 'direct', 0.2, 0.5), s(1, C, 'cross', 'direct', 1.2, 1.5),
  s(0, C, 'cross', 'nodemesh-l7', 0.35, 0.7, { cpuMsPer1kReq: 40 }), s(1, C, 'cross', 'nodemesh-l7', 1.35, 1.7, { cpuMsPer1kReq: 60 }),
  s(0, C, 'cross', 'nginx', 0.3, 0.9, { cpuMsPer1kReq: 50 }), s(1, C, 'cross', 'nginx', 1.3, 1.9, { cpuMsPer1kReq: 50 }),
  s(0, C, 'cross', 'nginx-tls', 0.4, 1.0, { cpuMsPer1kReq: 80 }), s(1, C, 'cross', 'nginx-tls', 1.4, 2.0, { cpuMsPer1kReq: 80 }),
  s(0, M, 'same', 'direct', 1, 3, { rps: 30_000 }), s(1, M, 'same', 'direct', 1, 3, { rps: 30_000 }),
  s(0, M, 'same', 'nodemesh-l7', 2, 5, { rps: 12_000, cpuMsPer1kReq: 30 }), s(1, M, 'same', 'nodemesh-l7', 2, 5, { rps: 9_000, error: 'NOT proxied at L7' }),
  s(0, M, 'same', 'nginx', 2, 5, { rps: 15_000, cpuMsPer1kReq: 25 }), s(1, M, 'same', 'nginx', 2, 5, { rps: 15_000, cpuMsPer1kReq: 25 }),
];

const close = (a: number | undefined, b: number): boolean => a !== undefined && Math.abs(a - b) < 1e-9;

test('added latency is paired per round; ratios per round against nginx and nginx-tls', () => {
  const { rows } = summarizeL7(samples, 2, 100);
  const l7 = rows.find((r) => r.cell === C && r.contender === 'nodemesh-l7')!;
  assert.ok(close(l7.addedP99?.min, 0.2) && close(l7.addedP99?.max, 0.2), JSON.stringify(l7.addedP99));
  assert.ok(close(l7.addedP50?.median, 0.15));
  assert.ok(close(l7.p99?.median, 1.2)); // mean of 0.7 and 1.7
  assert.ok(close(l7.cpuVsNginx?.min, 0.8) && close(l7.cpuVsNginx?.max, 1.2) && close(l7.cpuVsNginx?.median, 1));
  assert.ok(close(l7.cpuVsNginxTls?.median, 0.625));
  const direct = rows.find((r) => r.cell === C && r.contender === 'direct')!;
  assert.equal(direct.addedP99, undefined);
  assert.equal(direct.cpuVsNginx, undefined);
  const nginx = rows.find((r) => r.cell === C && r.contender === 'nginx')!;
  assert.ok(close(nginx.addedP99?.median, 0.4));
  assert.equal(nginx.cpuVsNginx, undefined);
});

test('a failed round is skipped in the spreads and counted with its error', () => {
  const { rows } = summarizeL7(samples, 2, 100);
  const l7 = rows.find((r) => r.cell === M && r.contender === 'nodemesh-l7')!;
  assert.equal(l7.ok, 1);
  assert.equal(l7.failed, 1);
  assert.equal(l7.firstError, 'NOT proxied at L7');
  assert.equal(l7.rps?.n, 1);
  assert.ok(close(l7.rpsVsNginx?.median, 0.8));
});

test('the aims: added p99 at 1,000 RPS cross node, CPU and max RPS against nginx', () => {
  const { aims } = summarizeL7(samples, 2, 100);
  const by = (name: RegExp, cell: string): (typeof aims)[number] | undefined => aims.find((a) => name.test(a.name) && a.cell === cell);
  const p99 = by(/added p99, two hops/, C)!;
  assert.ok(close(p99.value, 0.2));
  assert.equal(p99.met, true);
  assert.equal(by(/CPU per 1,000/, C)!.met, true); // 1.00× is within ≤ 1.00×
  assert.equal(by(/CPU per 1,000/, M)!.met, false); // 30 vs 25
  assert.equal(by(/max RPS/, M)!.met, false); // 0.8×
  assert.equal(by(/max RPS/, C), undefined);
});

test('aims: ttfb cells, and a missing comparison is "no data" rather than met', () => {
  const T = 'ttfb banner';
  const H = 'ttfb http';
  const rows = summarizeL7([
    s(0, T, 'cross', 'direct', 0.3, 0.4), s(0, T, 'cross', 'nodemesh-l7', 100.5, 101.2), s(0, T, 'cross', 'nodemesh-l4', 0.6, 0.9),
    s(0, H, 'cross', 'direct', 0.3, 0.4), s(0, H, 'cross', 'nodemesh-l7', 2.3, 3),
    s(0, C, 'cross', 'nodemesh-l7', 0.3, 0.4),
  ], 1, 100).rows;
  const aims = aimsOf(rows, 100);
  assert.equal(aims.find((a) => a.cell === T)!.met, true);
  assert.ok(close(aims.find((a) => a.cell === T)!.value, 100.8));
  assert.equal(aimsOf(rows, 50).find((a) => a.cell === T)!.met, false);
  assert.equal(aims.find((a) => a.cell === H)!.met, false); // +2 ms on a client-first protocol is a stall
  const p99 = aims.find((a) => a.cell === C && /added p99/.test(a.name))!;
  assert.equal(p99.value, undefined); // no direct sample to pair with
  assert.equal(p99.met, undefined);
});

test('render: one table per cell, the aims table, failures shown', () => {
  const text = renderL7(summarizeL7(samples, 2, 100), false);
  assert.match(text, /== h1 1k rps ×4/);
  assert.match(text, /== h1 max ×64/);
  assert.match(text, /cross\s+nodemesh-l7\s+0\.850 \[0\.350–1\.350\]/);
  assert.match(text, /1 failed: NOT proxied at L7/);
  assert.match(text, /max RPS vs nginx\s+h1 max ×64\s+same\s+0\.800\s+≥ 1\.00×\s+NO/);
  const md = renderL7(summarizeL7(samples, 2, 100), true);
  assert.match(md, /^#### h1 1k rps ×4$/m);
  assert.match(md, /^\| path \| contender \| p50 ms/m);
});
