// The L7 bench's knobs and cells, the load tools' command lines, the check of the path nodemesh
// took (L7 proven by request_total, L4 by its absence, capture by tcp_open_total), and the nginx
// configurations (validated by `nginx -t` when nginx is installed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applies, cellArgv, pathCheck } from '../../../bench/l7/cells.js';
import { cellsOf, readL7Config, type Cell } from '../../../bench/l7/config.js';
import { proxyConfig, serverConfig } from '../../../bench/l7/nginx.js';
import { nginxForwards, proxiedOf, type L7Target } from '../../../bench/l7/setup.js';

test('knobs: defaults, lists, bounds with the variable named', () => {
  const d = readL7Config({});
  assert.deepEqual([d.rounds, d.seconds, d.rates, d.conns, d.maxConns, d.bodyBytes, d.snapshot], [3, 5, [1000, 10_000], [4, 64], 64, 1024, true]);
  const c = readL7Config({ BENCH_L7_RATES: '500, 2000', BENCH_L7_CONNS: '8', BENCH_L7_MAX_CONNS: '0', BENCH_L7_POST_RATE: '0', BENCH_L7_H2_CONNS: '0', BENCH_L7_TTFB_COUNT: '0', BENCH_SNAPSHOT: '0', BENCH_L7_ONLY: 'direct,nginx' });
  assert.deepEqual(c.rates, [500, 2000]);
  assert.deepEqual(c.only, ['direct', 'nginx']);
  assert.equal(c.snapshot, false);
  assert.deepEqual(cellsOf(c).map((x) => x.id), ['h1 500 rps ×8', 'h1 2k rps ×8']);
  assert.throws(() => readL7Config({ BENCH_L7_RATES: '1000,fast' }), /BENCH_L7_RATES\[1\]=fast/);
  assert.throws(() => readL7Config({ BENCH_L7_ROUNDS: '0' }), /BENCH_L7_ROUNDS=0: expected an integer from 1/);
  assert.throws(() => readL7Config({ BENCH_SNAPSHOT: 'maybe' }), /BENCH_SNAPSHOT/);
});

test('cells: the default run', () => {
  assert.deepEqual(cellsOf(readL7Config({})).map((x) => x.id), [
    'h1 1k rps ×4', 'h1 1k rps ×64', 'h1 10k rps ×4', 'h1 10k rps ×64', 'h1 max ×64', 'post 1k rps ×4', 'h2 max ×4×16', 'ttfb http', 'ttfb banner']);
});

const target: L7Target = { contender: 'nodemesh-l7', path: 'cross', hops: 2, client: 'bench-mesh/client', ip: '10.96.30.2', h1Port: 80, h2Port: 81, bannerPort: 25 };
const ctx = { seconds: 5, bodyBytes: 1024, fortio: '/b/fortio', ttfbArgv: ['/usr/bin/node', '/d/ttfb.js'] };

test('command lines: fortio with its percentiles and POST body, h2load with its log, ttfb', () => {
  const post: Cell = { id: 'post', tool: 'fortio', qps: 1000, conns: 4, post: true };
  assert.deepEqual(cellArgv(post, target, ctx, '/t/l'), ['/b/fortio', 'load', '-qps', '1000', '-c', '4', '-t', '5s', '-json', '-', '-p', '50,90,99,99.9', '-r', '0.00001', '-quiet', '-payload-size', '1024', 'http://10.96.30.2:80/']);
  const max: Cell = { id: 'max', tool: 'fortio', qps: 0, conns: 64, post: false };
  assert.ok(!cellArgv(max, target, ctx, '/t/l').includes('-payload-size'));
  assert.deepEqual(cellArgv({ id: 'h2', tool: 'h2load', conns: 4, streams: 16 }, target, ctx, '/t/l'),
    ['h2load', '-D', '5', '--warm-up-time', '1', '-c', '4', '-m', '16', '-t', '1', '--log-file=/t/l', 'http://10.96.30.2:81/']);
  assert.deepEqual(cellArgv({ id: 'b', tool: 'ttfb', mode: 'banner', count: 9 }, target, ctx, ''), ['/usr/bin/node', '/d/ttfb.js', '10.96.30.2', '25', 'banner', '9']);
  const nginx: L7Target = { ...target, contender: 'nginx', bannerPort: undefined };
  assert.equal(applies({ id: 'b', tool: 'ttfb', mode: 'banner', count: 9 }, nginx), false);
  assert.equal(applies(max, nginx), true);
  assert.throws(() => cellArgv({ id: 'b', tool: 'ttfb', mode: 'banner', count: 9 }, nginx, ctx, ''), /no banner port/);
});

test('path check: L7 proven by outbound requests, L4 and server-first by none, capture by opens', () => {
  const h1: Cell = { id: 'h1', tool: 'fortio', qps: 1000, conns: 4, post: false };
  const banner: Cell = { id: 'b', tool: 'ttfb', mode: 'banner', count: 10 };
  const http: Cell = { id: 'h', tool: 'ttfb', mode: 'http', count: 10 };
  const rows: [Parameters<typeof pathCheck>, RegExp | undefined][] = [
    [['direct', h1, 5000, undefined, undefined], undefined],
    [['nginx', h1, 5000, 0, 0], undefined],
    [['nodemesh-l7', h1, 5000, 5004, 4], undefined],
    [['nodemesh-l7', h1, 5000, 4700, 4], /NOT proxied at L7: the agents counted 4700 outbound requests for 5000/],
    [['nodemesh-l7', h1, 5000, 0, 4], /NOT proxied at L7/],
    [['nodemesh-l7', h1, 5000, 5000, 0], undefined], // counted requests prove capture when the open events lag
    [['nodemesh-l4', h1, 5000, 0, 0], /NOT captured/],
    [['nodemesh-l7', h1, 5000, 0, 0], /NOT captured/],
    [['nodemesh-l7', h1, 5000, undefined, undefined], /unreadable/],
    [['nodemesh-l4', h1, 5000, 0, 4], undefined],
    [['nodemesh-l4', h1, 5000, 12, 4], /12 requests were parsed as HTTP on a path that must stay L4/],
    [['nodemesh-l7', banner, 10, 0, 10], undefined],
    [['nodemesh-l7', banner, 10, 3, 10], /must stay L4/],
    [['nodemesh-l7', http, 10, 10, 10], undefined],
  ];
  for (const [args, want] of rows) {
    const got = pathCheck(...args);
    if (want) assert.match(got ?? '', want, JSON.stringify(args));
    else assert.equal(got, undefined, JSON.stringify(args));
  }
  assert.equal(proxiedOf('nodemesh-l4'), 'nodemesh');
  assert.equal(proxiedOf('nginx-tls'), 'nginx-tls');
  assert.equal(proxiedOf('direct'), undefined);
});

const forwards = nginxForwards({ gatewayA: '10.200.1.1', uplinkB: '10.199.0.2', serverA: '10.200.1.3', serverB: '10.200.2.2' },
  { ca: '/t/ca.crt', certA: '/t/a.crt', keyA: '/t/a.key', certB: '/t/b.crt', keyB: '/t/b.key' });

test('nginx: forwards of both pairs, keep-alive upstreams, mutual TLS 1.3 between the TLS pair', () => {
  assert.deepEqual(forwards.a.map((f) => `${f.bind}>${f.target}${f.h2c ? ' h2c' : ''}`), [
    '10.200.1.1:28080>10.200.1.3:8080', '10.200.1.1:28081>10.200.1.3:8080 h2c', '10.200.1.1:38080>10.199.0.2:38080', '10.200.1.1:38081>10.199.0.2:38080 h2c']);
  assert.deepEqual(forwards.b.map((f) => `${f.bind}>${f.target}`), ['10.199.0.2:38080>10.200.2.2:8080']);
  const a = proxyConfig('/t/a', forwards.aTls, 2, 'tls a');
  assert.match(a, /worker_processes 2;/);
  assert.match(a, /upstream tls_h1 \{ server 10\.199\.0\.2:18443; keepalive 256;/);
  assert.match(a, /proxy_pass https:\/\/tls_h1;/);
  assert.match(a, /proxy_http_version 1\.1; proxy_set_header Connection "";/);
  assert.match(a, /proxy_ssl_certificate \/t\/a\.crt; proxy_ssl_certificate_key \/t\/a\.key; proxy_ssl_protocols TLSv1\.3;/);
  assert.match(a, /proxy_ssl_verify on;/);
  assert.match(a, /proxy_ssl_name node-b;/);
  assert.match(a, /listen 10\.200\.1\.1:18081 http2 reuseport/);
  const b = proxyConfig('/t/b', forwards.bTls, 2, 'tls b');
  assert.match(b, /listen 10\.199\.0\.2:18443 ssl reuseport/);
  assert.match(b, /ssl_client_certificate \/t\/ca\.crt; ssl_verify_client on;/);
  assert.match(b, /ssl_protocols TLSv1\.3;/);
  assert.match(proxyConfig('/t/p', forwards.a, 2, 'plain'), /proxy_pass http:\/\/same_h1;/);
  assert.throws(() => proxyConfig('/t/p', [...forwards.a, forwards.a[0]!], 2, 'dup'), /must be unique/);
  assert.throws(() => proxyConfig('/t/p', [{ name: 'x', bind: 'localhost:1', target: '1.2.3.4:5' }], 2, 'bad'), /ip:port/);
  assert.throws(() => proxyConfig('/t/p', [{ ...forwards.bTls[0]!, h2c: true }], 2, 'bad'), /exclusive/);
  assert.throws(() => proxyConfig('relative', forwards.a, 2, 'bad'), /absolute path/);
  assert.throws(() => proxyConfig('/t/p', forwards.a, 0, 'bad'), /workers/);
});

test('nginx: the server answers bodyBytes, HTTP/1.1 and h2c ports; nginx -t accepts both configs', (t) => {
  const conf = serverConfig('/t/s', 8080, 8081, 1024);
  assert.match(conf, /listen 8080 reuseport/);
  assert.match(conf, /listen 8081 http2 reuseport/);
  assert.equal(/return 200 "(x+)";/.exec(conf)?.[1]?.length, 1024);
  assert.throws(() => serverConfig('/t/s', 8080, 8081, 5000), /bodyBytes/);
  try { execFileSync('nginx', ['-v'], { stdio: 'ignore' }); } catch { t.skip('nginx is not installed'); return; }
  const dir = mkdtempSync(path.join(tmpdir(), 'l7-nginx-'));
  try {
    writeFileSync(path.join(dir, 's.conf'), serverConfig(dir, 18080, 18081, 1024));
    writeFileSync(path.join(dir, 'p.conf'), proxyConfig(dir, [{ name: 'x', bind: '127.0.0.1:18090', target: '127.0.0.1:18080' }, { name: 'y', bind: '127.0.0.1:18091', target: '127.0.0.1:18080', h2c: true }], 2, 'plain'));
    for (const f of ['s.conf', 'p.conf']) execFileSync('nginx', ['-t', '-q', '-c', path.join(dir, f), '-p', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
