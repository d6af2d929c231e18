// The connect-to-first-byte client (bench/l7/ttfb.ts) against real local servers: a banner that
// greets after 60 ms is timed at ≥ 60 ms from connect(), an HTTP server answering at once well
// under it, and a refused port counts as an error; the output is what parseTtfb reads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTtfb } from '../../../bench/l7/parse.js';

const TOOL = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'l7', 'ttfb.js');

function run(port: number, mode: string, count: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [TOOL, '127.0.0.1', String(port), mode, String(count)], { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

function listen(onConn: (s: net.Socket) => void): Promise<{ port: number; close(): void }> {
  return new Promise((resolve) => {
    const srv = net.createServer(onConn);
    srv.listen(0, '127.0.0.1', () => resolve({ port: (srv.address() as net.AddressInfo).port, close: () => srv.close() }));
  });
}

test('banner: the greeting delay is in the first-byte time; http: a client-first answer is not', async () => {
  const banner = await listen((s) => { setTimeout(() => s.end('220 ready\r\n'), 60); s.on('error', () => undefined); });
  const http = await listen((s) => {
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    s.on('error', () => undefined);
  });
  try {
    const b = parseTtfb(await run(banner.port, 'banner', 3));
    assert.equal(b.errors, 0);
    assert.equal(b.firstByteMs.length, 3);
    assert.ok(b.firstByteMs[0]! >= 59, `banner first byte ${b.firstByteMs[0]} ms`);
    const h = parseTtfb(await run(http.port, 'http', 3));
    assert.equal(h.errors, 0);
    assert.ok(h.firstByteMs[2]! < 50, `http first byte ${h.firstByteMs[2]} ms`);
    // each handshake ends before its first byte, so the sorted lists keep that order element-wise
    assert.ok(h.connectMs.every((x, i) => x <= h.firstByteMs[i]!), JSON.stringify(h));
    // a client-first request to a server-first port waits for the greeting too
    const hb = parseTtfb(await run(banner.port, 'http', 1));
    assert.ok(hb.firstByteMs[0]! >= 59);
  } finally {
    banner.close();
    http.close();
  }
});

test('refused connections are errors with the first message, and the tool still prints its line', async () => {
  const srv = await listen(() => undefined);
  const port = srv.port;
  srv.close();
  await new Promise((r) => setTimeout(r, 50));
  const r = parseTtfb(await run(port, 'banner', 2));
  assert.equal(r.errors, 2);
  assert.equal(r.firstByteMs.length, 0);
  assert.match(r.firstError ?? '', /ECONNREFUSED/);
});
