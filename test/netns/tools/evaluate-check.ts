// Runs inside a throwaway network namespace (unshare -n): starts the native proxy on spare ports,
// installs compileTable(view) and prints, for every row of the decision fixture, what decide()
// says and what the native evaluate() says. The netns test asserts they agree.

import { NodeProxy } from '../../../native/index.js';
import { compileTable, decide } from '../../../agent/src/decide/index.js';
import { FIXTURE_PROXY_PORTS, ROWS, view } from '../../fixtures/decide-table.js';

const proxy = NodeProxy.start({ outboundPort: FIXTURE_PROXY_PORTS[0], inboundPort: FIXTURE_PROXY_PORTS[1] }, () => undefined);
try {
  proxy.setTable(JSON.stringify(compileTable(view, 1)));
  const rows = ROWS.map(([name, conn]) => {
    const d = decide(view, conn);
    const n = proxy.evaluate(conn.direction, conn.src.ip, conn.src.port, conn.dst.ip, conn.dst.port);
    return {
      name,
      ts: d.kind === 'route'
        ? { action: 'forward', upstream: `${d.upstream.ip}:${d.upstream.port}`, bind: d.bindIp, service: d.service?.name ?? '', endpoints: d.service?.endpoints.length ?? 0 }
        : { action: 'deny', reason: d.code },
      native: n.action === 'forward'
        ? { action: 'forward', upstream: `${n.upstreamIp}:${n.upstreamPort}`, bind: n.bindIp, service: n.service ?? '', endpoints: n.endpoints ?? 0 }
        : { action: 'deny', reason: n.reason },
    };
  });
  process.stdout.write(`${JSON.stringify(rows)}\n`);
} finally {
  await proxy.close();
}
