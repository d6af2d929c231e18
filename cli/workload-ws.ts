// WebSocket echo on the echo's HTTP port (RFC 6455): a real handshake (Sec-WebSocket-Accept) and a
// frame codec, so a proxy passing `Upgrade` through is tested with real frames: masked client frames
// come back as unmasked server frames with the same opcode and FIN, ping gets pong, close gets close.

import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Largest frame payload echoed; a bigger one is closed with 1009 (message too big). */
export const MAX_WS_PAYLOAD = 16 * 1024 * 1024;

export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export function wsAccept(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export interface WsFrame { readonly fin: boolean; readonly opcode: number; readonly masked: boolean; readonly payload: Buffer }

export type ParseResult =
  | { readonly kind: 'frame'; readonly frame: WsFrame; readonly size: number }
  | { readonly kind: 'more' }
  | { readonly kind: 'error'; readonly closeCode: number; readonly reason: string };

/** Decodes one frame from the start of `buf` (unmasking it); 'more' until the whole frame is there. */
export function parseFrame(buf: Buffer, maxPayload = MAX_WS_PAYLOAD): ParseResult {
  if (buf.length < 2) return { kind: 'more' };
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  if ((b0 & 0x70) !== 0) return { kind: 'error', closeCode: 1002, reason: 'reserved bits set without an extension' };
  const opcode = b0 & 0x0f;
  if (![0, 1, 2, 8, 9, 10].includes(opcode)) return { kind: 'error', closeCode: 1002, reason: `unknown opcode ${opcode}` };
  const fin = (b0 & 0x80) !== 0;
  const masked = (b1 & 0x80) !== 0;
  let len = b1 & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return { kind: 'more' };
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return { kind: 'more' };
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(maxPayload)) return { kind: 'error', closeCode: 1009, reason: `frame of ${big} bytes is over ${maxPayload}` };
    len = Number(big);
    off = 10;
  }
  if (opcode >= 8 && (len > 125 || !fin)) return { kind: 'error', closeCode: 1002, reason: 'control frame fragmented or over 125 bytes' };
  if (len > maxPayload) return { kind: 'error', closeCode: 1009, reason: `frame of ${len} bytes is over ${maxPayload}` };
  const maskLen = masked ? 4 : 0;
  if (buf.length < off + maskLen + len) return { kind: 'more' };
  const payload = Buffer.from(buf.subarray(off + maskLen, off + maskLen + len));
  if (masked) {
    const key = buf.subarray(off, off + 4);
    for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i & 3]!;
  }
  return { kind: 'frame', frame: { fin, opcode, masked, payload }, size: off + maskLen + len };
}

/** Encodes one frame; servers send unmasked frames, clients (tests) pass a 4-byte mask key. */
export function encodeFrame(opcode: number, payload: Buffer, opts: { fin?: boolean; mask?: Buffer } = {}): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (opts.mask ? 4 : 0));
  head[0] = ((opts.fin ?? true) ? 0x80 : 0) | opcode;
  head[1] = (opts.mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!opts.mask) return Buffer.concat([head, payload]);
  opts.mask.copy(head, 2 + ext);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ opts.mask[i & 3]!;
  return Buffer.concat([head, body]);
}

function closePayload(code: number, reason: string): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

/** Is this upgrade request a WebSocket one? (the Upgrade header lists "websocket") */
export function isWebSocketUpgrade(req: http.IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase().split(',').some((t) => t.trim() === 'websocket');
}

/**
 * Answers a WebSocket upgrade on `socket`: 400 for a bad handshake, else 101 (with `extraHeaders`)
 * and an echo loop until either side closes. Client frames must be masked (1002 otherwise).
 */
export function serveWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, extraHeaders: Readonly<Record<string, string>>): void {
  socket.on('error', () => socket.destroy());
  const key = req.headers['sec-websocket-key'];
  const keyOk = typeof key === 'string' && Buffer.from(key, 'base64').length === 16;
  if (req.method !== 'GET' || !keyOk || req.headers['sec-websocket-version'] !== '13') {
    const body = 'WebSocket handshake needs GET, Sec-WebSocket-Version: 13 and a 16-byte base64 Sec-WebSocket-Key\n';
    socket.end(`HTTP/1.1 400 Bad Request\r\nsec-websocket-version: 13\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    return;
  }
  const lines = ['HTTP/1.1 101 Switching Protocols', 'upgrade: websocket', 'connection: Upgrade', `sec-websocket-accept: ${wsAccept(key)}`,
    ...Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  let buf: Buffer = head.length > 0 ? Buffer.from(head) : Buffer.alloc(0);
  let closed = false;
  const fail = (code: number, reason: string): void => {
    closed = true;
    socket.end(encodeFrame(OP.close, closePayload(code, reason)));
  };
  const drain = (): void => {
    while (!closed) {
      const r = parseFrame(buf);
      if (r.kind === 'more') return;
      if (r.kind === 'error') return fail(r.closeCode, r.reason);
      buf = buf.subarray(r.size);
      const f = r.frame;
      if (!f.masked) return fail(1002, 'client frames must be masked');
      if (f.opcode === OP.ping) socket.write(encodeFrame(OP.pong, f.payload));
      else if (f.opcode === OP.pong) continue;
      else if (f.opcode === OP.close) {
        closed = true;
        socket.end(encodeFrame(OP.close, f.payload.length >= 2 ? f.payload.subarray(0, 2) : Buffer.alloc(0)));
      } else if (!socket.write(encodeFrame(f.opcode, f.payload, { fin: f.fin }))) {
        socket.pause(); // backpressure: read no more until the echo is flushed
        socket.once('drain', () => socket.resume());
      }
    }
  };
  socket.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    drain();
  });
  socket.on('end', () => { if (!closed) socket.end(); });
  drain();
}
