// Raw HTTP/1 bytes for the malformed-input e2e tests, run inside a pod: writes the given bytes (base64)
// on one connection and reads until the server closes it or a quiet period passes, printing one JSON
// line: the bytes read (latin1), whether the server closed, and the status lines seen.
// Usage: raw-http.js HOST PORT BASE64 [QUIET_MS]

import net from 'node:net';

const [host, portText, b64, quietText] = process.argv.slice(2);
const quietMs = Number(quietText ?? 1500);
const t0 = Date.now();
let data = '';
let closed = false;
let finished = false;
const finish = (error?: string): void => {
  if (finished) return;
  finished = true;
  const statuses = [...data.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
  process.stdout.write(`${JSON.stringify({ closed, statuses, data, ms: Date.now() - t0, ...(error ? { error } : {}) })}\n`);
  s.destroy();
};
let quiet = setTimeout(() => finish(), quietMs);
// our side stays open after the write, so a close is the server's decision
const s = net.connect(Number(portText), host!, () => s.write(Buffer.from(b64!, 'base64')));
s.on('data', (d: Buffer) => {
  data += d.toString('latin1');
  clearTimeout(quiet);
  quiet = setTimeout(() => finish(), quietMs);
});
s.on('end', () => { closed = true; clearTimeout(quiet); finish(); });
s.on('error', (e: NodeJS.ErrnoException) => { closed = true; clearTimeout(quiet); finish(e.code === 'ECONNRESET' ? undefined : e.message); });
