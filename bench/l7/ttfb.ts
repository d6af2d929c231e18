// The connect-to-first-byte client, run inside the client pod (`node ttfb.js IP PORT MODE COUNT`):
// COUNT connections one after the other; http sends a GET at once after connect (client-first),
// banner sends nothing and waits for the server's greeting (server-first). Prints one JSON line
// with the TCP handshake and connect() → first byte times in ms (parsed by parse.ts parseTtfb).

import net from 'node:net';

function once(ip: string, port: number, mode: string): Promise<{ connect: number; first: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let t1 = 0n;
    const s = net.connect({ host: ip, port, noDelay: true });
    const timer = setTimeout(() => s.destroy(new Error('no first byte in 10 s')), 10_000);
    s.once('connect', () => {
      t1 = process.hrtime.bigint();
      if (mode === 'http') s.write(`GET / HTTP/1.1\r\nHost: ${ip}\r\nConnection: close\r\n\r\n`);
    });
    s.once('data', () => {
      const t2 = process.hrtime.bigint();
      clearTimeout(timer);
      s.destroy();
      // from the connect() call: a busy event loop can run the connect and data callbacks back to
      // back, so the time between them alone would hide a stall
      resolve({ connect: Number(t1 - t0) / 1e6, first: Number(t2 - t0) / 1e6 });
    });
    s.once('error', (e) => { clearTimeout(timer); reject(e); });
    s.once('close', () => { clearTimeout(timer); reject(new Error('closed before the first byte')); });
  });
}

async function main(): Promise<void> {
  const [ip, portRaw, mode, countRaw] = process.argv.slice(2);
  const port = Number(portRaw);
  const count = Number(countRaw);
  if (!ip || !Number.isInteger(port) || (mode !== 'http' && mode !== 'banner') || !Number.isInteger(count) || count < 1) {
    process.stderr.write('usage: ttfb.js IP PORT http|banner COUNT\n');
    process.exit(2);
  }
  const connectMs: number[] = [];
  const firstByteMs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  for (let i = 0; i < count; i++) {
    try {
      const r = await once(ip, port, mode);
      connectMs.push(r.connect);
      firstByteMs.push(r.first);
    } catch (e) {
      errors++;
      firstError ??= (e as Error).message;
    }
  }
  process.stdout.write(`${JSON.stringify({ connectMs, firstByteMs, errors, ...(firstError ? { firstError } : {}) })}\n`);
}

void main();
