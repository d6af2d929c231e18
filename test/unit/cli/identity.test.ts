// `nodemesh identity show` formatting: one line per identity with serial, expiry and what is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIdentities } from '../../../cli/identity.js';

test('identity show: one row per identity, time left, state and last error', () => {
  const now = Date.parse('2026-12-05T12:00:00Z');
  const text = formatIdentities('node-a', [
    { identity: 'spiffe://cluster.local/ns/shop/sa/client', serial: 'ab12', notBefore: '2026-12-05T11:55:00Z', notAfter: '2026-12-06T11:55:00Z', state: 'valid' },
    { identity: 'spiffe://cluster.local/ns/shop/sa/old', serial: 'cd34', notBefore: '2026-12-04T11:55:00Z', notAfter: '2026-12-05T11:00:00Z', state: 'expired', lastError: 'MESH_ERR_CA_UNAVAILABLE' },
  ], now);
  const lines = text.split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^IDENTITY\s+SERIAL\s+NOT AFTER\s+LEFT\s+STATE$/);
  assert.match(lines[1]!, /sa\/client\s+ab12\s+2026-12-06T11:55:00Z\s+23h55m\s+valid$/);
  assert.match(lines[2]!, /sa\/old\s+cd34\s+.*expired\s+expired \(MESH_ERR_CA_UNAVAILABLE\)$/);
  assert.doesNotMatch(text, /PRIVATE KEY/);
});

test('identity show: a node without identities says why', () => {
  assert.match(formatIdentities('node-b', []), /node node-b holds no workload identity/);
});
