// A paced keep-alive HTTP/1.1 load loop for the L7 e2e tests, run inside a pod: `rps` requests per
// second for `seconds` over at most `conns` pooled connections; prints one JSON line with every
// request as [start ms since the epoch, status (0: transport error), the echo's version, ms].
// Usage: node paced-load.js URL RPS SECONDS CONNS

import http from 'node:http';

const [url, rpsArg, secondsArg, connsArg] = process.argv.slice(2);
const rps = Number(rpsArg);
const seconds = Number(secondsArg);
const conns = Number(connsArg ?? '4');
if (!url || !(rps > 0) || !(seconds > 0) || !(conns > 0)) {
  process.stderr.write('usage: node paced-load.js URL RPS SECONDS CONNS\n');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
const rows: [number, number, string, number][] = [];
const errors: Record<string, number> = {};

function once(): Promise<void> {
  const t0 = Date.now();
  const p0 = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, version: string): void => {
      rows.push([t0, status, version, Math.round((performance.now() - p0) * 1000) / 1000]);
      resolve();
    };
    const req = http.get(url!, { agent, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let v = '?';
        try { v = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { version?: string }).version ?? '?'); } catch { /* not the echo's JSON */ }
        done(res.statusCode ?? 0, v);
      });
      res.on('error', (e) => { errors[e.message] = (errors[e.message] ?? 0) + 1; done(0, ''); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { errors[e.message] = (errors[e.message] ?? 0) + 1; done(0, ''); });
  });
}

const start = Date.now();
const total = Math.round(rps * seconds);
const pending: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  const due = start + (i * 1000) / rps;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  pending.push(once());
}
await Promise.all(pending);
agent.destroy();
rows.sort((a, b) => a[0] - b[0]);
process.stdout.write(`${JSON.stringify({ start, end: Date.now(), rows, errors })}\n`);
