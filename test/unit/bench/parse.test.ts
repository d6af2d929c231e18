// Parsers of the benchmark's tool outputs: sockperf summaries (as sockperf 3.7 prints them, colour
// codes included), iperf3 JSON (results and errors), /proc/PID/stat and status, Prometheus sums.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError, parseIperf3, parseProcStatTicks, parseSockperf, parseVmRssKiB, promSum } from '../../../bench/parse.js';

const E = '\x1b';
const SOCKPERF = `sockperf: ${E}[2;35m== version #3.7-no.git == ${E}[0m
sockperf[CLIENT] send on:sockperf: using recvfrom() to block on socket(s)

[ 0] IP = 10.200.2.11     PORT = 11111 # TCP
sockperf: Warmup stage (sending a few dummy messages)...
sockperf: Starting test...
sockperf: Test end (interrupted by timer)
sockperf: Test ended
sockperf: [Total Run] RunTime=1.001 sec; Warm up time=400 msec; SentMessages=39313; ReceivedMessages=39312
sockperf: ========= Printing statistics for Server No: 0
sockperf: [Valid Duration] RunTime=0.550 sec; SentMessages=29305; ReceivedMessages=29305
sockperf: ${E}[2;35m====> avg-rtt=18.745 (std-dev=27.298)${E}[0m
sockperf: # dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0
sockperf: Summary: Round trip is 18.745 usec
sockperf: ${E}[2;35mTotal 29305 observations${E}[0m; each percentile contains 293.05 observations
sockperf: ---> <MAX> observation = 1030.408
sockperf: ---> percentile 99.999 = 1030.408
sockperf: ---> percentile 99.990 =  416.855
sockperf: ---> percentile 99.900 =  172.035
sockperf: ---> percentile 99.000 =  102.655
sockperf: ---> percentile 90.000 =   65.183
sockperf: ---> percentile 75.000 =    9.362
sockperf: ---> percentile 50.000 =    9.094
sockperf: ---> percentile 25.000 =    8.978
sockperf: ---> <MIN> observation =    8.612
`;

test('sockperf: percentiles in µs, counts, run times, colour codes ignored', () => {
  const r = parseSockperf(SOCKPERF);
  assert.equal(r.p50, 9.094);
  assert.equal(r.p90, 65.183);
  assert.equal(r.p99, 102.655);
  assert.equal(r.p999, 172.035);
  assert.equal(r.percentiles.get(99.99), 416.855);
  assert.equal(r.min, 8.612);
  assert.equal(r.max, 1030.408);
  assert.equal(r.avg, 18.745);
  assert.equal(r.observations, 29305);
  assert.deepEqual([r.totalSeconds, r.totalSent, r.totalReceived], [1.001, 39313, 39312]);
  assert.deepEqual([r.validSeconds, r.validReceived, r.dropped], [0.55, 29305, 0]);
});

test('sockperf: the report may be split over stdout and stderr (parsed from their concatenation)', () => {
  const lines = SOCKPERF.split('\n');
  const [a, b] = [lines.slice(0, 12).join('\n'), lines.slice(12).join('\n')];
  assert.equal(parseSockperf(`${b}\n${a}`).p99, 102.655);
});

test('sockperf: a missing percentile is a ParseError that shows the output tail', () => {
  const cut = SOCKPERF.split('\n').filter((l) => !l.includes('percentile 99.000')).join('\n');
  assert.throws(() => parseSockperf(cut), (e: unknown) => e instanceof ParseError && /percentile 99\b/.test(e.message) && /MIN/.test(e.message));
  assert.throws(() => parseSockperf('sockperf: ERROR: Failed to connect'), ParseError);
});

const IPERF_OK = JSON.stringify({
  start: {},
  end: {
    sum_sent: { start: 0, end: 1.000669, seconds: 1.000669, bytes: 2079457280, bits_per_second: 16624536425.131586, retransmits: 4130, sender: true },
    sum_received: { start: 0, end: 1.00071, seconds: 1.00071, bytes: 2079457280, bits_per_second: 16623855302.735058, sender: true },
  },
});

test('iperf3: receiver throughput, bytes, seconds and the sender\'s retransmits', () => {
  const r = parseIperf3(IPERF_OK);
  assert.equal(r.bitsPerSecond, 16623855302.735058);
  assert.equal(r.bytes, 2079457280);
  assert.equal(r.seconds, 1.00071);
  assert.equal(r.retransmits, 4130);
});

test('iperf3: its "error" field, non-JSON text and a missing summary are ParseErrors', () => {
  const err = '{\n\t"start":\t{\n\t\t"connected":\t[]\n\t},\n\t"intervals":\t[],\n\t"end":\t{\n\t},\n\t"error":\t"unable to connect to server: Connection refused"\n}';
  assert.throws(() => parseIperf3(err), /iperf3 failed: unable to connect to server: Connection refused/);
  assert.throws(() => parseIperf3('iperf3: error - unable to connect'), /not JSON/);
  assert.throws(() => parseIperf3('{"end":{}}'), /sum_received/);
});

test('/proc/PID/stat: utime + stime, even when the command name holds spaces and parentheses', () => {
  const fields = ['S', '1', '2', '3', '0', '-1', '4194560', '100', '0', '0', '0', '1234', '567', '0', '0', '20', '0', '7', '0', '900'];
  assert.equal(parseProcStatTicks(`4242 (node) ${fields.join(' ')}`), 1801);
  assert.equal(parseProcStatTicks(`4242 (a b) c)) ${fields.join(' ')}\n`), 1801);
  assert.throws(() => parseProcStatTicks('garbage'), ParseError);
  assert.throws(() => parseProcStatTicks('1 (x) S 1 2'), ParseError);
});

test('/proc/PID/status: VmRSS in KiB, undefined without it', () => {
  assert.equal(parseVmRssKiB('Name:\tnode\nVmHWM:\t  70000 kB\nVmRSS:\t   61234 kB\nThreads:\t11\n'), 61234);
  assert.equal(parseVmRssKiB('Name:\tkworker\nState:\tI (idle)\n'), undefined);
});

test('promSum adds every sample of a metric, any labels, and nothing of similarly named ones', () => {
  const text = [
    '# HELP tcp_open_total Connections opened',
    '# TYPE tcp_open_total counter',
    'tcp_open_total{direction="outbound",node="node-a"} 3',
    'tcp_open_total{direction="inbound",node="node-a"} 4',
    'tcp_open_total_extra{x="y"} 100',
    'tcp_open_total 1',
  ].join('\n');
  assert.equal(promSum(text, 'tcp_open_total'), 8);
  assert.equal(promSum(text, 'tcp_close_total'), 0);
});
