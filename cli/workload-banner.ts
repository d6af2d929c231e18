// `nodemesh workload banner --tcp PORT`: a server-first TCP workload (as SMTP or MySQL): it greets
// on accept with "220 <pod> nodemesh-banner ready\r\n" before the client sends anything, then echoes
// each line; "QUIT" answers "221 <pod> bye" and closes. Protocol detection must not stall it.

import net from 'node:net';
import os from 'node:os';
import { intFlag, parseFlags, usageError } from './args.js';
import { usageOf } from './commands.js';
import { echoIdentity } from './workload-controls.js';
import { listen } from './workload-http.js';

/** Longest line kept before a newline arrives; a longer one is echoed as it is and the buffer reset. */
const MAX_LINE = 64 * 1024;

export function bannerLine(pod: string, text?: string): string {
  return `220 ${pod} ${text ?? 'nodemesh-banner ready'}\r\n`;
}

/** Splits what arrived into complete lines (with their "\n") and the rest; a pure step of the echo. */
export function takeLines(pending: string, chunk: string): { lines: string[]; rest: string } {
  const all = pending + chunk;
  const lines: string[] = [];
  let start = 0;
  for (let i = all.indexOf('\n'); i >= 0; i = all.indexOf('\n', start)) {
    lines.push(all.slice(start, i + 1));
    start = i + 1;
  }
  let rest = all.slice(start);
  if (rest.length > MAX_LINE) {
    lines.push(rest);
    rest = '';
  }
  return { lines, rest };
}

export async function startBanner(opts: { port: number; host?: string; text?: string }): Promise<{ server: net.Server; close(): Promise<void> }> {
  const id = echoIdentity(process.env, os.hostname());
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.setEncoding('utf8');
    s.write(bannerLine(id.pod, opts.text));
    let pending = '';
    s.on('data', (d: string) => {
      const { lines, rest } = takeLines(pending, d);
      pending = rest;
      for (const l of lines) {
        if (l.trim().toUpperCase() === 'QUIT') {
          s.end(`221 ${id.pod} bye\r\n`);
          return;
        }
        s.write(l);
      }
    });
    s.on('end', () => s.end(pending)); // the client half-closed: send the unterminated rest, then close ours
  });
  await listen(server, opts.port, opts.host ?? '0.0.0.0', 'banner TCP server');
  return {
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export async function workloadBanner(argv: string[]): Promise<number> {
  const usage = usageOf(['workload', 'banner']);
  const { values } = parseFlags(argv, { tcp: { type: 'string' }, text: { type: 'string' } }, usage);
  const port = intFlag(values, 'tcp', usage, { min: 1, max: 65535 });
  if (port === undefined) throw usageError('--tcp PORT is required', usage);
  const text = typeof values.text === 'string' ? values.text : undefined;
  if (text !== undefined && /[\r\n]/.test(text)) throw usageError('--text must be one line', usage);
  const b = await startBanner({ port, ...(text !== undefined ? { text } : {}) });
  process.stdout.write(`banner: pod ${process.env.POD_NAMESPACE ?? ''}/${process.env.POD_NAME ?? os.hostname()} listening tcp=${port}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await b.close();
  return 0;
}
