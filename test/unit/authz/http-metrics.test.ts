// inbound_http_authz_allow_total / _deny_total: read from the native counters' snapshot at scrape
// time (no JavaScript per request), by policy; rows without counts add no series; a later scrape
// shows the source's current totals (counters are not summed twice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentMetrics, type HttpAuthzCount } from '../../../agent/src/telemetry/index.js';

const series = async (m: AgentMetrics, name: string): Promise<Record<string, number>> => {
  const got = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return Object.fromEntries((got?.values ?? []).map((v) => [String(v.labels.policy), Number(v.value)]));
};

test('HTTP authz counters come from the native snapshot, by policy', async () => {
  const m = new AgentMetrics('node-a');
  assert.deepEqual(await series(m, 'inbound_http_authz_deny_total'), {}, 'no source: no series');
  let rows: HttpAuthzCount[] = [{ policy: 'shop/deny-admin', allow: 0, deny: 3 }, { policy: 'shop/readers', allow: 5, deny: 1 }, { policy: 'default:deny', allow: 0, deny: 2 }];
  m.setHttpAuthzSource(() => rows);
  assert.deepEqual(await series(m, 'inbound_http_authz_deny_total'), { 'shop/deny-admin': 3, 'shop/readers': 1, 'default:deny': 2 });
  assert.deepEqual(await series(m, 'inbound_http_authz_allow_total'), { 'shop/readers': 5 });
  rows = [{ policy: 'shop/readers', allow: 7, deny: 1 }];
  assert.deepEqual(await series(m, 'inbound_http_authz_allow_total'), { 'shop/readers': 7 }, 'the current totals, not a sum of scrapes');
  const text = await m.registry.metrics();
  assert.match(text, /inbound_http_authz_allow_total\{policy="shop\/readers",node="node-a"\} 7/);
  assert.match(text, /# HELP inbound_http_authz_deny_total Inbound HTTP requests refused by authorization/);
});
