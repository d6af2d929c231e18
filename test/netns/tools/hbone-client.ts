// A foreign HBONE client for test/netns/hbone-wire.test.ts, run inside an unmeshed pod: Node's
// http2 (nghttp2, not the Rust h2 crate nodemesh uses) over Node's TLS (OpenSSL, not rustls),
// speaking to a node proxy's port 15008 as an Istio ztunnel would. Prints one JSON line.
// Modes: streams (CONNECT streams on one connection), nocert, garbage-tls, garbage-tcp.

import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

interface StreamSpec {
  readonly method?: string;
  readonly authority: string;
  readonly headers?: Record<string, string>;
  /** bytes to send (the stream is then half-closed); the answer is read until the stream ends */
  readonly send?: string;
}
interface Spec {
  readonly host: string;
  readonly port?: number;
  /** PEM files of the client certificate chain and key; absent in nocert */
  readonly cert?: string;
  readonly key?: string;
  readonly ca: string;
  /** the SPIFFE identity the server must present (checked as ztunnel's client does) */
  readonly serverId: string;
  readonly streams?: readonly StreamSpec[];
  readonly timeoutMs?: number;
}

const out = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
const [mode, json] = process.argv.slice(2);
const spec = JSON.parse(json ?? '{}') as Spec;
const timeoutMs = spec.timeoutMs ?? 5000;

function tlsOptions(withCert: boolean): tls.ConnectionOptions {
  return {
    host: spec.host,
    port: spec.port ?? 15008,
    ca: readFileSync(spec.ca),
    ...(withCert && spec.cert && spec.key ? { cert: readFileSync(spec.cert), key: readFileSync(spec.key) } : {}),
    ALPNProtocols: ['h2'],
    minVersion: 'TLSv1.3',
    // no SNI (an IP host sends none), and the server is accepted only with the destination's SPIFFE ID
    checkServerIdentity: (_host, cert) => (cert.subjectaltname === `URI:${spec.serverId}` ? undefined : new Error(`server presented ${cert.subjectaltname ?? 'no SAN'}, wanted URI:${spec.serverId}`)),
  };
}

interface StreamResult { status?: number; body?: string; error?: string }

function runStream(session: http2.ClientHttp2Session, s: StreamSpec): Promise<StreamResult> {
  return new Promise((resolve) => {
    const method = s.method ?? 'CONNECT';
    const headers: http2.OutgoingHttpHeaders = { ':method': method, ':authority': s.authority, ...s.headers };
    if (method !== 'CONNECT') Object.assign(headers, { ':scheme': 'https', ':path': '/' });
    const req = session.request(headers, { endStream: method !== 'CONNECT' });
    const r: StreamResult = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      r.status = Number(h[':status']);
      if (r.status === 200 && s.send !== undefined) req.end(s.send);
    });
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => { r.body = Buffer.concat(chunks).toString('utf8'); resolve(r); });
    req.on('error', (e: Error) => { r.error = e.message; resolve(r); });
    req.on('close', () => { if (r.body === undefined) r.body = Buffer.concat(chunks).toString('utf8'); resolve(r); });
    req.setTimeout(timeoutMs, () => { r.error = 'timeout'; req.close(http2.constants.NGHTTP2_CANCEL); });
  });
}

async function streams(): Promise<void> {
  let sockets = 0;
  let tlsInfo: { protocol: string | null; alpn: string | false | null; serverSan?: string; authorized: boolean } | undefined;
  const session = http2.connect(`https://${spec.host}:${spec.port ?? 15008}`, {
    createConnection: () => {
      sockets++;
      const s = tls.connect(tlsOptions(true));
      s.once('secureConnect', () => {
        tlsInfo = { protocol: s.getProtocol(), alpn: s.alpnProtocol, serverSan: s.getPeerCertificate().subjectaltname, authorized: s.authorized };
      });
      return s;
    },
  });
  const sessionError = new Promise<string>((resolve) => session.once('error', (e: Error) => resolve(e.message)));
  const results = await Promise.race([
    Promise.all((spec.streams ?? []).map((s) => runStream(session, s))),
    sessionError.then((e) => ({ sessionError: e })),
  ]);
  session.close();
  out({ ok: true, sockets, tls: tlsInfo, results });
}

/** No client certificate: the server must not let a single stream through. */
async function nocert(): Promise<void> {
  const session = http2.connect(`https://${spec.host}:${spec.port ?? 15008}`, { createConnection: () => tls.connect(tlsOptions(false)) });
  session.on('error', () => undefined);
  const r = await runStream(session, { authority: spec.streams?.[0]?.authority ?? `${spec.host}:9000`, send: 'hello' });
  session.destroy();
  out({ ok: true, result: r });
}

/** Writes `bytes` on `sock` once it is up; reports how the server ended the connection. */
function garbage(sock: net.Socket | tls.TLSSocket, ready: string): Promise<void> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let received = 0;
    let finished = false;
    const done = (how: string): void => {
      if (finished) return;
      finished = true;
      out({ ok: true, closed: how, afterMs: Date.now() - t0, received });
      sock.destroy();
      resolve();
    };
    const timer = setTimeout(() => done('still-open'), timeoutMs);
    sock.once(ready, () => sock.write(Buffer.from('GARBAGE\r\n\r\nthis is not an HTTP/2 connection preface at all\x00\xff\xfe'.repeat(20), 'latin1')));
    sock.on('data', (d: Buffer) => { received += d.length; });
    sock.once('error', (e: Error) => { clearTimeout(timer); done(`error: ${e.message}`); });
    sock.once('end', () => { clearTimeout(timer); done('end'); });
    sock.once('close', () => { clearTimeout(timer); done('close'); });
  });
}

async function main(): Promise<void> {
  switch (mode) {
    case 'streams': return streams();
    case 'nocert': return nocert();
    case 'garbage-tls': return garbage(tls.connect(tlsOptions(true)), 'secureConnect');
    case 'garbage-tcp': return garbage(net.connect({ host: spec.host, port: spec.port ?? 15008 }), 'connect');
    default: out({ ok: false, error: `unknown mode ${mode}` }); process.exit(2);
  }
}

main().catch((e: Error) => { out({ ok: false, error: e.message }); process.exit(1); });
