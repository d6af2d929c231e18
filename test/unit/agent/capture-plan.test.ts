// Table tests of the capture plan and of the /proc/net parsers it relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCapture, parseNetDev, parseRoutes, routeInterface } from '../../../agent/src/capture/index.js';

test('planCapture: attach first, add workloads, delete stale entries last', () => {
  const ops = planCapture(
    { workloads: new Map([['10.0.0.2', 1], ['10.0.0.3', 2]]), localAddrs: new Set(['10.0.0.1']), interfaces: new Set(['eth0', 'nmp1']) },
    { workloads: new Map([['10.0.0.3', { index: 2, flags: 1 }], ['10.0.0.9', { index: 5, flags: 1 }]]), localAddrs: new Set(['10.0.0.7']), attached: new Set(['eth0', 'gone']) },
  );
  assert.deepEqual(ops, [
    { op: 'attach', ifname: 'nmp1' },
    { op: 'set-local', ip: '10.0.0.1' },
    { op: 'set-workload', ip: '10.0.0.2', index: 1 },
    { op: 'delete-workload', ip: '10.0.0.9' },
    { op: 'delete-local', ip: '10.0.0.7' },
    { op: 'detach', ifname: 'gone' },
  ]);
});

test('planCapture: nothing to do when in step', () => {
  assert.deepEqual(planCapture(
    { workloads: new Map([['10.0.0.2', 1]]), localAddrs: new Set(), interfaces: new Set(['eth0']) },
    { workloads: new Map([['10.0.0.2', { index: 1, flags: 1 }]]), localAddrs: new Set(), attached: new Set(['eth0']) },
  ), []);
});

test('planCapture: a changed index or missing flag is rewritten', () => {
  const ops = planCapture(
    { workloads: new Map([['10.0.0.2', 4]]), localAddrs: new Set(), interfaces: new Set() },
    { workloads: new Map([['10.0.0.2', { index: 1, flags: 1 }]]), localAddrs: new Set(), attached: new Set() },
  );
  assert.deepEqual(ops, [{ op: 'set-workload', ip: '10.0.0.2', index: 4 }]);
});

test('parseNetDev skips headers and lo', () => {
  const text = 'Inter-|   Receive\n face |bytes\n    lo: 1 2\n  eth0: 3 4\nnmp1: 5 6\n';
  assert.deepEqual(parseNetDev(text), ['eth0', 'nmp1']);
});

test('routeInterface picks the longest prefix', () => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t0000C70A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0', // 10.199.0.0/24
    'eth0\t0002C80A\t0100C70A\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0', // 10.200.2.0/24 via
    'nmp1\t0A01C80A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0', // 10.200.1.10/32
  ].join('\n');
  const routes = parseRoutes(text);
  assert.equal(routeInterface(routes, '10.200.1.10'), 'nmp1');
  assert.equal(routeInterface(routes, '10.200.2.33'), 'eth0');
  assert.equal(routeInterface(routes, '10.200.1.11'), undefined);
});
