// A TCP client/server for the netns end-to-end tests, run inside pod namespaces. Each mode prints
// one JSON line with what it measured (bytes, checksums, timings) so tests assert on real traffic.
// Modes: stall-server, halfclose, bulk, concurrent, push, loop, services, probe.

import net from 'node:net';
import { createHash } from 'node:crypto';

const [mode, ...args] = process.argv.slice(2);
const out = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
const fail = (msg: string): never => { out({ ok: false, error: msg }); process.exit(1); };

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Deterministic pseudo-random bytes, so both ends can checksum without sharing the data. */
function chunk(seed: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

async function main(): Promise<void> {
  switch (mode) {
    case 'stall-server': {
      // accepts and never reads: the sender's path must apply backpressure
      const srv = net.createServer((s) => { s.pause(); });
      srv.listen(Number(args[0]), () => out({ ok: true, listening: Number(args[0]) }));
      return;
    }
    case 'halfclose': {
      // client sends and ends its side, then must still receive the echo and the server's end
      const s = await connect(args[0]!, Number(args[1]));
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.end('hello half-close');
      await new Promise<void>((r) => s.on('end', () => r()));
      out({ ok: true, received: Buffer.concat(got).toString() });
      s.destroy();
      return;
    }
    case 'bulk': {
      // sends N bytes to an echo server, checksums what was sent and what came back
      const total = Number(args[2]);
      const s = await connect(args[0]!, Number(args[1]));
      const sent = createHash('sha256');
      const recv = createHash('sha256');
      let received = 0;
      const t0 = process.hrtime.bigint();
      const done = new Promise<void>((resolve, reject) => {
        s.on('data', (d: Buffer) => { recv.update(d); received += d.length; });
        s.on('end', () => resolve());
        s.on('error', reject);
      });
      const size = 256 * 1024;
      let seq = 0;
      for (let off = 0; off < total; off += size) {
        const c = chunk(++seq, Math.min(size, total - off));
        sent.update(c);
        if (!s.write(c)) await new Promise((r) => s.once('drain', r));
      }
      s.end();
      await done;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      out({ ok: true, sent: total, received, sentSha: sent.digest('hex'), receivedSha: recv.digest('hex'), ms });
      return;
    }
    case 'concurrent': {
      // opens N connections that are all open at the same time, then checks each echoes its id
      const n = Number(args[2]);
      const socks = await Promise.all(Array.from({ length: n }, () => connect(args[0]!, Number(args[1]))));
      const results = await Promise.all(socks.map((s, i) => new Promise<boolean>((resolve) => {
        const msg = `conn-${i}`;
        let buf = '';
        s.on('data', (d: Buffer) => { buf += d.toString(); if (buf === msg) resolve(true); });
        s.on('error', () => resolve(false));
        setTimeout(() => resolve(false), 20000).unref();
        s.write(msg);
      })));
      socks.forEach((s) => s.destroy());
      out({ ok: results.every(Boolean), opened: socks.length, echoed: results.filter(Boolean).length });
      return;
    }
    case 'push': {
      // writes as much as the path accepts for ms milliseconds towards a server that may not read
      const s = await connect(args[0]!, Number(args[1]));
      const ms = Number(args[2]);
      const c = chunk(7, 64 * 1024);
      let written = 0;
      let stop = false;
      setTimeout(() => { stop = true; }, ms);
      s.on('error', () => { stop = true; });
      while (!stop) {
        if (s.write(c)) written += c.length;
        else { written += c.length; await Promise.race([new Promise((r) => s.once('drain', r)), new Promise((r) => setTimeout(r, 50))]); }
      }
      out({ ok: true, written, bufferedLocally: s.writableLength });
      s.destroy();
      return;
    }
    case 'loop': {
      // new connection per round trip to an echo server for ms milliseconds; counts failures
      const ms = Number(args[2]);
      const until = Date.now() + ms;
      let ok = 0;
      let failed = 0;
      const errors: string[] = [];
      while (Date.now() < until) {
        try {
          const s = await connect(args[0]!, Number(args[1]));
          const got = await new Promise<string>((resolve, reject) => {
            let b = '';
            s.on('data', (d: Buffer) => { b += d.toString(); });
            s.on('end', () => resolve(b));
            s.on('error', reject);
            s.setTimeout(5000, () => s.destroy(new Error('timeout')));
            s.end('ping');
          });
          if (got === 'ping') ok++; else { failed++; errors.push(`got ${JSON.stringify(got)}`); }
        } catch (e) {
          failed++;
          if (errors.length < 5) errors.push(String(e));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      out({ ok: failed === 0, succeeded: ok, failed, errors });
      return;
    }
    case 'hold': {
      // one long-lived connection to an echo server: a message every 50 ms for ms milliseconds,
      // each echo awaited; reports the round trips and the first error (the connection must live)
      const ms = Number(args[2]);
      const until = Date.now() + ms;
      let rounds = 0;
      let s: net.Socket | undefined;
      try {
        s = await connect(args[0]!, Number(args[1]));
        let pending: { want: string; got: string; done: () => void } | undefined;
        let dead: Error | undefined;
        s.on('data', (d: Buffer) => { if (pending) { pending.got += d.toString(); if (pending.got.length >= pending.want.length) pending.done(); } });
        s.on('error', (e) => { dead = e; pending?.done(); });
        s.on('close', () => { dead ??= new Error('connection closed'); pending?.done(); });
        while (Date.now() < until) {
          const want = `hold-${rounds}|`;
          const p = { want, got: '', done: () => undefined as void };
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            p.done = resolve;
            pending = p;
            s!.write(want);
            timer = setTimeout(() => { dead ??= new Error(`no echo of round ${rounds} within 5 s`); resolve(); }, 5000);
          });
          clearTimeout(timer);
          pending = undefined;
          if (dead) throw dead;
          if (p.got !== want) throw new Error(`round ${rounds}: got ${JSON.stringify(p.got)}`);
          rounds++;
          await new Promise((r) => setTimeout(r, 50));
        }
        s.end();
        out({ ok: true, rounds });
      } catch (e) {
        s?.destroy();
        out({ ok: false, rounds, error: String(e) });
      }
      return;
    }
    case 'services': {
      // n new connections to host:port, each reads the echo server's pod name from an HTTP GET
      const n = Number(args[2]);
      const pods: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const s = await connect(args[0]!, Number(args[1]));
        const body = await new Promise<string>((resolve, reject) => {
          let b = '';
          s.on('data', (d: Buffer) => { b += d.toString(); });
          s.on('end', () => resolve(b));
          s.on('error', reject);
          s.end(`GET / HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n`);
        });
        const json = body.slice(body.indexOf('\r\n\r\n') + 4);
        const pod = (JSON.parse(json) as { pod: string }).pod;
        pods[pod] = (pods[pod] ?? 0) + 1;
      }
      out({ ok: true, pods });
      return;
    }
    case 'probe': {
      // one connection to an echo server carrying `text`: prints whether the echo came back, or
      // the error (a denial resets the connection); never exits non-zero for a refused connection
      const text = args[2] ?? 'probe';
      try {
        const s = await connect(args[0]!, Number(args[1]));
        const got = await new Promise<string>((resolve, reject) => {
          let b = '';
          s.on('data', (d: Buffer) => { b += d.toString(); });
          s.on('end', () => resolve(b));
          s.on('error', reject);
          s.setTimeout(Number(args[3] ?? 5000), () => s.destroy(new Error('timeout')));
          s.end(text);
        });
        out({ ok: got === text, echoed: got });
      } catch (e) {
        out({ ok: false, error: (e as NodeJS.ErrnoException).code ?? String(e) });
      }
      return;
    }
    default:
      fail(`unknown mode ${mode}; modes: stall-server, halfclose, bulk, concurrent, push, loop, hold, services, probe`);
  }
}

main().catch((e: unknown) => fail(String(e)));
