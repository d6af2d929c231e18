// nginx for the L7 bench: pure config generators for the server pods (a 1 KB answer on an
// HTTP/1.1 and an h2c port) and for the reverse-proxy contender (per node, HTTP/1.1 keep-alive to
// its upstream, optionally mutual TLS 1.3 between the two nodes' instances), and a runner that
// starts `nginx -c cfg` in a network namespace with nsenter and stops it by pid.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ADDR = /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/;
const FILE = /^\/[\w./+-]+$/;

function file(p: string, what: string): string {
  if (!FILE.test(p)) throw new RangeError(`${what} "${p}" must be an absolute path without spaces`);
  return p;
}

/** The part every instance shares: foreground, its own pid/temp files, no logs but errors. */
function globals(dir: string, workers: number): string[] {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be a positive integer, got ${workers}`);
  const d = file(dir, 'nginx dir');
  return [
    'daemon off;', 'master_process on;', 'user root;', `worker_processes ${workers};`,
    `pid ${d}/nginx.pid;`, 'error_log stderr warn;',
    'events { worker_connections 8192; multi_accept on; }',
    'http {',
    '    access_log off;',
    `    client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/fcgi;`,
    `    uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;`,
    // keep-alive connections stay up for the whole cell (the default closes one after 1,000 requests)
    '    keepalive_requests 100000000; keepalive_timeout 300s;',
    '    tcp_nodelay on;',
  ];
}

/**
 * A server pod's nginx: `return 200` with a fixed body of `bodyBytes` on `h1Port` (HTTP/1.1) and
 * `h2Port` (h2c prior knowledge), for any method (a POST body is read and discarded).
 */
export function serverConfig(dir: string, h1Port: number, h2Port: number, bodyBytes: number): string {
  if (!Number.isInteger(bodyBytes) || bodyBytes < 1 || bodyBytes > 4000) throw new RangeError(`bodyBytes must be 1–4000 (nginx return text), got ${bodyBytes}`);
  const body = 'x'.repeat(bodyBytes);
  return `${[
    '# nodemesh bench:l7 server',
    ...globals(dir, 1),
    '    default_type text/plain;',
    '    server {',
    `        listen ${h1Port} reuseport backlog=4096;`,
    `        listen ${h2Port} http2 reuseport backlog=4096;`,
    `        location / { return 200 "${body}"; }`,
    '    }',
    '}',
  ].join('\n')}\n`;
}

export interface NginxTls {
  /** accept: TLS on the listener, client certificate required; connect: TLS to the upstream */
  readonly mode: 'accept' | 'connect';
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** connect: the name the upstream's certificate must carry */
  readonly verifyName?: string;
}

export interface NginxForward {
  readonly name: string;
  /** ip:port to listen on */
  readonly bind: string;
  /** ip:port of the upstream */
  readonly target: string;
  /** the listener speaks h2c prior knowledge (the upstream is always HTTP/1.1) */
  readonly h2c?: boolean;
  readonly tls?: NginxTls;
}

/** A reverse proxy instance: one upstream with a keep-alive pool and one server per forward. */
export function proxyConfig(dir: string, forwards: readonly NginxForward[], workers: number, comment: string): string {
  const lines = [`# ${comment}`, ...globals(dir, workers)];
  const seen = new Set<string>();
  for (const f of forwards) {
    if (!/^[a-z0-9_]+$/.test(f.name) || seen.has(f.name)) throw new RangeError(`forward name "${f.name}" must be unique and match [a-z0-9_]+`);
    if (!ADDR.test(f.bind) || !ADDR.test(f.target)) throw new RangeError(`forward ${f.name}: bind and target must be ip:port, got ${f.bind} → ${f.target}`);
    seen.add(f.name);
    const t = f.tls;
    if (t) for (const [p, w] of [[t.cert, 'cert'], [t.key, 'key'], [t.ca, 'ca']] as const) file(p, `forward ${f.name} TLS ${w}`);
    if (t?.verifyName !== undefined && !/^[\w.-]+$/.test(t.verifyName)) throw new RangeError(`forward ${f.name}: bad verifyName "${t.verifyName}"`);
    if (t?.mode === 'accept' && f.h2c) throw new RangeError(`forward ${f.name}: TLS on the listener and h2c are exclusive`);
    lines.push(`    upstream ${f.name} { server ${f.target}; keepalive 256; keepalive_requests 100000000; keepalive_timeout 300s; }`);
    lines.push('    server {');
    lines.push(`        listen ${f.bind}${f.h2c ? ' http2' : ''}${t?.mode === 'accept' ? ' ssl' : ''} reuseport backlog=4096;`);
    if (t?.mode === 'accept') {
      lines.push(`        ssl_certificate ${t.cert}; ssl_certificate_key ${t.key}; ssl_protocols TLSv1.3;`);
      lines.push(`        ssl_client_certificate ${t.ca}; ssl_verify_client on;`);
    }
    lines.push('        location / {');
    lines.push(`            proxy_pass ${t?.mode === 'connect' ? 'https' : 'http'}://${f.name};`);
    lines.push('            proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off;');
    if (t?.mode === 'connect') {
      lines.push(`            proxy_ssl_certificate ${t.cert}; proxy_ssl_certificate_key ${t.key}; proxy_ssl_protocols TLSv1.3;`);
      lines.push(`            proxy_ssl_trusted_certificate ${t.ca}; proxy_ssl_verify on; proxy_ssl_session_reuse on;`);
      if (t.verifyName) lines.push(`            proxy_ssl_name ${t.verifyName}; proxy_ssl_server_name on;`);
    }
    lines.push('        }', '    }');
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Direct children of a pid (nginx's workers), from /proc/PID/task/PID/children. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export interface NginxProcess {
  readonly name: string;
  readonly pid: number;
  readonly configPath: string;
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Writes `config` to dir/nginx.conf and starts nginx in the netns (nsenter execs it, so the pid
 * is nginx's master). dir must exist and be the one the config names.
 */
export function startNginx(netnsPath: string, name: string, dir: string, config: string): NginxProcess {
  const configPath = path.join(dir, 'nginx.conf');
  writeFileSync(configPath, config);
  const child = spawn('nsenter', [`--net=${netnsPath}`, '--', 'nginx', '-c', configPath, '-p', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.on('error', (e) => { out += `${e.message}\n`; });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const pid = child.pid ?? 0;
  return {
    name, pid, configPath, child,
    output: () => out,
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try { process.kill(pid, 'SIGTERM'); } catch { return; }
      const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
      await exited;
      clearTimeout(t);
    },
  };
}
