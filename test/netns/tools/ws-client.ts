// A WebSocket client for the e2e tests, run inside a pod: a handcrafted HTTP/1.1 Upgrade on a raw
// socket, then masked frames both ways (text, a 70,000-byte binary, a fragmented message, ping,
// close), printing one JSON line with what came back. Usage: ws-client.js HOST PORT PATH

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { OP, encodeFrame, parseFrame, wsAccept, type WsFrame } from '../../../cli/workload-ws.js';

interface Report {
  status: number;
  acceptOk: boolean;
  headers: Record<string, string>;
  frames: { opcode: number; fin: boolean; masked: boolean; text?: string; code?: number; size: number; sum?: number }[];
  error?: string;
}

const [host, portText, path] = process.argv.slice(2);
const key = randomBytes(16).toString('base64');
const big = Buffer.alloc(70_000, 0);
for (let i = 0; i < big.length; i++) big[i] = i % 251;
const sum = (b: Buffer): number => b.reduce((a, x) => (a + x) % 1_000_003, 0);
const mask = (): Buffer => randomBytes(4);
// what the client sends after the 101, in order; the echo answers each data/ping/close frame
const script = [
  encodeFrame(OP.text, Buffer.from('hello through the mesh'), { mask: mask() }),
  encodeFrame(OP.binary, big, { mask: mask() }),
  encodeFrame(OP.text, Buffer.from('frag-'), { fin: false, mask: mask() }),
  encodeFrame(OP.continuation, Buffer.from('mented'), { mask: mask() }),
  encodeFrame(OP.ping, Buffer.from('are you there'), { mask: mask() }),
];
const EXPECTED = script.length; // frames echoed before we send close

const report: Report = { status: 0, acceptOk: false, headers: {}, frames: [] };
const done = (error?: string): void => {
  if (error) report.error = error;
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(error ? 1 : 0);
};
setTimeout(() => done('timeout after 10 s'), 10_000).unref();

const s = net.connect(Number(portText), host!, () => {
  s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
});
let buf = Buffer.alloc(0);
let upgraded = false;
let closeSent = false;
const record = (f: WsFrame): void => {
  const out: Report['frames'][number] = { opcode: f.opcode, fin: f.fin, masked: f.masked, size: f.payload.length };
  if (f.opcode === OP.binary) out.sum = sum(f.payload);
  else if (f.opcode === OP.close) out.code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 0;
  else out.text = f.payload.toString('utf8');
  report.frames.push(out);
};
s.on('data', (d: Buffer) => {
  buf = Buffer.concat([buf, d]);
  if (!upgraded) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
    report.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) report.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    report.acceptOk = report.headers['sec-websocket-accept'] === wsAccept(key);
    buf = buf.subarray(end + 4);
    if (report.status !== 101) return done(`expected 101, got ${lines[0]}`);
    upgraded = true;
    for (const f of script) s.write(f);
  }
  for (;;) {
    const r = parseFrame(buf);
    if (r.kind === 'more') break;
    if (r.kind === 'error') return done(`bad frame from the server: ${r.reason}`);
    buf = buf.subarray(r.size);
    record(r.frame);
    if (r.frame.opcode === OP.close) {
      s.end();
      return;
    }
  }
  if (!closeSent && report.frames.length >= EXPECTED) {
    closeSent = true;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(1000, 0);
    s.write(encodeFrame(OP.close, payload, { mask: mask() }));
  }
});
s.on('error', (e) => done(`socket error: ${e.message}`));
s.on('close', () => done());
