// Table-driven tests of decide() and compileTable(): every row is a captured connection and the
// decision the node proxy must take for it (rows in test/fixtures/decide-table.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, compileTable } from '../../../agent/src/decide/index.js';
import { IndexAllocator, buildNodeView } from '../../../agent/src/state/index.js';
import { ROWS, parsed, resourcesFrom, view } from '../../fixtures/decide-table.js';
import { nodeConfigFrom } from '../../../controller/src/views/index.js';

for (const [name, conn, want] of ROWS) {
  test(`decide: ${name}`, () => {
    const d = decide(view, conn);
    const got = d.kind === 'route' ? `route:${d.workload.key}` : d.code;
    assert.equal(got, want);
    if (d.kind === 'route') {
      assert.deepEqual(d.upstream, conn.dst, 'upstream is the original destination');
      assert.equal(d.bindIp, conn.src.ip, 'the upstream connection keeps the client IP');
    }
  });
}

test('compileTable lists exactly the enrolled pods of this node, denies by default', () => {
  const t = compileTable(view, 7);
  assert.equal(t.version, 7);
  assert.deepEqual(t.workloads.map((w) => w.ip).sort(), ['10.200.1.10', '10.200.1.11']);
  assert.equal(t.defaults.outbound.action, 'deny');
  assert.equal(t.defaults.inbound.reason, 'MESH_ERR_NOT_ENROLLED');
  assert.deepEqual(t.localAddrs, ['10.199.0.1', '10.200.1.1']);
});

test('view explains why each pod is or is not meshed', () => {
  const reasons = Object.fromEntries(view.local.map((w) => [w.key, w.reason]));
  assert.deepEqual(reasons, {
    'legacy/old': 'namespace-not-meshed',
    'shop/client': 'enrolled',
    'shop/optout': 'opted-out',
    'shop/server': 'enrolled',
  });
  assert.equal(view.local.find((w) => w.key === 'shop/client')?.identity, 'spiffe://cluster.local/ns/shop/sa/default');
});

test('workload indexes are stable across rebuilds', () => {
  const idx = new IndexAllocator();
  const r = nodeConfigFrom(resourcesFrom(parsed.objects), 'node-a');
  const a = buildNodeView(r, 'node-a', [], idx);
  const b = buildNodeView(r, 'node-a', [], idx);
  assert.deepEqual(a.local.map((w) => w.index), b.local.map((w) => w.index));
  assert.equal(new Set(a.local.map((w) => w.index)).size, a.local.length);
});

test('a Service VIP routes to its ready endpoints on every node; other ports are plain forwards', () => {
  const d = decide(view, { direction: 'outbound', src: { ip: '10.200.1.10', port: 1 }, dst: { ip: '10.96.0.10', port: 80 } });
  assert.equal(d.kind, 'route');
  if (d.kind !== 'route') return;
  assert.equal(d.service?.name, 'shop/web');
  assert.deepEqual(d.service?.endpoints.map((e) => `${e.ip}:${e.port}`), ['10.200.1.11:8080', '10.200.2.10:8080']);
  const other = decide(view, { direction: 'outbound', src: { ip: '10.200.1.10', port: 1 }, dst: { ip: '10.96.0.10', port: 81 } });
  assert.equal(other.kind === 'route' && other.service, undefined);
  const t = compileTable(view, 1);
  assert.deepEqual(t.services?.find((x) => x.vip === '10.96.0.10'), { name: 'shop/web', vip: '10.96.0.10', port: 80, endpoints: [{ ip: '10.200.1.11', port: 8080 }, { ip: '10.200.2.10', port: 8080 }] });
});
