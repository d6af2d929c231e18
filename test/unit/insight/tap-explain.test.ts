// The agent's tap filter (which finished-request records a tap wants) and explain (why a pod is
// meshed, what a connection gets) on the decide() fixture cluster: rows in, answers out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tapMatches, toTapEvent, type TapFilter } from '../../../agent/src/report/index.js';
import { explainPair, explainPod } from '../../../agent/src/explain/index.js';
import { view } from '../../fixtures/decide-table.js';

const rec = (o: Record<string, unknown> = {}): Record<string, unknown> => ({ direction: 'outbound', src: '10.200.1.10:40000', dst: '10.200.1.11:8080', method: 'GET', authority: 'web', path: '/api/x', status: 200, duration_ms: 1.5, ...o });
const f = (o: Partial<TapFilter> = {}): TapFilter => ({ id: 't', namespace: 'shop', workload: '', method: '', pathPrefix: '', maxPerSecond: 10, ...o });

test('tap filters: from or to the workload, method, path prefix', () => {
  const e = toTapEvent(view, rec(), 1);
  assert.equal(e.srcWorkload.namespace, 'shop');
  assert.equal(e.grpcStatus, -1);
  const rows: Array<[Partial<TapFilter>, Record<string, unknown>, boolean]> = [
    [{}, {}, true],
    [{ namespace: 'legacy' }, {}, false],
    [{ workload: e.srcWorkload.workload }, {}, true],
    [{ workload: e.dstWorkload.workload }, {}, true],
    [{ workload: 'nobody' }, {}, false],
    [{ method: 'get' }, {}, true],
    [{ method: 'POST' }, {}, false],
    [{ pathPrefix: '/api' }, {}, true],
    [{ pathPrefix: '/admin' }, {}, false],
    [{}, { src: '10.9.9.9:1', dst: '10.9.9.8:2' }, false],
    [{}, { dst: '10.96.0.10:80', endpoint: '10.200.1.11:8080' }, true],
  ];
  for (const [filter, r, want] of rows) assert.equal(tapMatches(f(filter), toTapEvent(view, rec(r), 1)), want, JSON.stringify([filter, r]));
});

test('explain a pod: enrolled or why not, with the agent report', () => {
  const ok = explainPod(view, 'shop/client', { capture: 'attached', captureError: '', certState: 'valid', certNotAfterMs: 3_600_000 * 25, ageMs: 1000, connected: true }, 3_600_000);
  assert.equal(ok?.meshed, true);
  assert.match(ok!.summary, /^meshed/);
  const out = explainPod(view, 'shop/optout', undefined, 0);
  assert.equal(out?.meshed, false);
  assert.match(out!.summary, /nodemesh.io\/capture/);
  const legacy = explainPod(view, 'legacy/old', undefined, 0);
  assert.match(legacy!.summary, /nodemesh.io\/mesh=enabled/);
  const failed = explainPod(view, 'shop/client', { capture: 'failed', captureError: 'no route', certState: 'pending', certNotAfterMs: 0, ageMs: 1000, connected: true }, 0);
  assert.equal(failed?.meshed, false);
  assert.match(failed!.summary, /capture: capture failed: no route/);
  const down = explainPod(view, 'shop/client', undefined, 0);
  assert.ok(down?.checks.some((c) => c.what === 'agent' && !c.ok));
  assert.equal(explainPod(view, 'shop/nope', undefined, 0), undefined);
});

test('explain a pair: captured or not, the path, authorization at the destination', () => {
  const same = explainPair({ srcView: view, src: 'shop/client', dst: { ip: '10.200.1.11', port: 8080 }, viewOf: () => view });
  assert.ok(!('error' in same));
  if ('error' in same) return;
  assert.equal(same.captured, true);
  assert.deepEqual(same.hops.map((x) => [x.pod, x.path, x.authorization.transport]), [['shop/server', 'same-node', 'local']]);
  const optout = explainPair({ srcView: view, src: 'shop/optout', dst: { ip: '10.200.1.11', port: 8080 }, viewOf: () => view });
  assert.ok(!('error' in optout) && optout.captured === false && optout.hops[0]?.path === 'plaintext');
  const direct = explainPair({ srcView: view, src: 'shop/client', dst: { ip: '127.0.0.1', port: 80 }, viewOf: () => view });
  assert.ok(!('error' in direct) && /MESH_ERR_DIRECT_CONNECT/.test(direct.summary));
  assert.ok('error' in explainPair({ srcView: view, src: 'shop/ghost', dst: { ip: '10.0.0.1', port: 1 }, viewOf: () => view }));
});
