// Parsers of the new-connection cell and the TLS handshake counters: connrate's JSON line, HAProxy's
// `show info` and `show stat` CSV (SSL module columns, as HAProxy 2.6 prints them), /proc/net/snmp.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haproxySsl, parseConnrate, parseHaproxyInfo, parseHaproxyStat, snmpTcp } from '../../../bench/parse-conn.js';
import { ParseError } from '../../../bench/parse.js';

test('connrate: the last JSON line, every field; a first error is kept', () => {
  const cases = [
    {
      raw: '{"connections":28858,"errors":0,"seconds":2.012,"parallel":16,"msg_size":1024,"p50_us":467,"p90_us":893,"p99_us":27859,"p999_us":43629,"max_us":56880}\n',
      want: { connections: 28858, errors: 0, seconds: 2.012, parallel: 16, p50: 467, p90: 893, p99: 27859, p999: 43629, max: 56880, firstError: undefined },
    },
    {
      raw: 'warning\n{"connections":2,"errors":44197,"seconds":3.002,"parallel":16,"msg_size":1024,"p50_us":65,"p90_us":65,"p99_us":65,"p999_us":65,"max_us":65,"first_error":"connect: Connection refused"}',
      want: { connections: 2, errors: 44197, seconds: 3.002, parallel: 16, p50: 65, p90: 65, p99: 65, p999: 65, max: 65, firstError: 'connect: Connection refused' },
    },
  ];
  for (const c of cases) assert.deepEqual(parseConnrate(c.raw), c.want);
});

test('connrate: no report, bad JSON or a missing field is a ParseError naming it', () => {
  for (const [raw, re] of [['', /no JSON/], ['usage: connrate', /no JSON/], ['{"connections":', /not JSON/], ['{"connections":1}', /"errors"/]] as const) {
    assert.throws(() => parseConnrate(raw), (e: unknown) => e instanceof ParseError && re.test((e as Error).message), raw);
  }
});

test('show info: name → value', () => {
  const m = parseHaproxyInfo('Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nCumSslConns: 4540\nSslFrontendSessionReuse_pct: 100\n\n');
  assert.equal(m.get('CumSslConns'), '4540');
  assert.equal(m.get('Version'), '2.6.12-1+deb12u4');
  assert.equal(m.get('SslFrontendSessionReuse_pct'), '100');
});

// a trimmed `show stat` of the client-side (node-a) TLS instance: 7 new sessions, 4533 resumed
const HEAD = '# pxname,svname,qcur,stot,type,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd';
const STAT = `${HEAD}
tls-echo,FRONTEND,,4540,0,-,0,0,0,
tls-echo,s1,0,4540,2,-,7,4533,0,
tls-echo,BACKEND,0,4540,1,-,7,4533,0,0
tls-iperf,FRONTEND,,3,0,-,0,0,0,
tls-iperf,s1,0,3,2,-,2,1,1,
tls-iperf,BACKEND,0,3,1,-,2,1,1,0
`;

test('show stat: rows by column; SSL sessions summed over server rows or frontend rows', () => {
  const rows = parseHaproxyStat(STAT);
  assert.equal(rows.length, 6);
  assert.equal(rows[1]!.svname, 's1');
  assert.equal(rows[1]!.ssl_reused_sess, '4533');
  const cases = [
    { kind: 'server' as const, want: { full: 9, resumed: 4534, failed: 1 } },
    { kind: 'frontend' as const, want: { full: 0, resumed: 0, failed: 0 } },
  ];
  for (const c of cases) assert.deepEqual(haproxySsl(rows, c.kind), c.want, c.kind);
  assert.throws(() => parseHaproxyStat('Unknown command'), ParseError);
  assert.throws(() => haproxySsl(parseHaproxyStat('# pxname,svname,stot\nx,FRONTEND,1\n'), 'frontend'), /ssl_sess/);
});

test('/proc/net/snmp: a Tcp counter by name', () => {
  const snmp = 'Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails\nTcp: 1 200 120000 -1 12 345 0\nUdp: InDatagrams\nUdp: 3\n';
  assert.equal(snmpTcp(snmp, 'PassiveOpens'), 345);
  assert.equal(snmpTcp(snmp, 'ActiveOpens'), 12);
  assert.throws(() => snmpTcp(snmp, 'Nope'), /Nope/);
  assert.throws(() => snmpTcp('Ip: a\nIp: 1\n', 'PassiveOpens'), /Tcp/);
});
