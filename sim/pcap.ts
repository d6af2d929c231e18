// Packet capture of one interface inside a simulated node's network namespace (tcpdump), for the
// demo and the tests that check what crosses a node link. start() resolves only once tcpdump says
// it is listening, and --immediate-mode hands every packet to the file at once (without it libpcap
// holds packets in a ring block for up to 1 s, and a capture stopped sooner loses them).

import { spawn } from 'node:child_process';
import { MeshError } from '../common/errors.js';
import { netnsPath } from './netns.js';

export interface LinkCapture {
  /** stops tcpdump (SIGINT, so it flushes) and resolves when it has exited */
  stop(): Promise<void>;
}

/** Captures `filter` on `iface` of netns `netns` into `file` (pcap), unbuffered (-U). */
export function startLinkCapture(netns: string, file: string, opts: { iface?: string; filter?: string; timeoutMs?: number } = {}): Promise<LinkCapture> {
  const args = [`--net=${netnsPath(netns)}`, 'tcpdump', '--immediate-mode', '-i', opts.iface ?? 'eth0', '-U', '-s', '0', '-w', file, ...(opts.filter ?? 'tcp').split(' ')];
  const p = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGINT');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new MeshError('MESH_ERR_COMMAND', `tcpdump in ${netns} did not start listening within ${opts.timeoutMs ?? 10_000} ms: ${err.trim() || 'no output'}; is tcpdump installed (npm run setup)?`));
    }, opts.timeoutMs ?? 10_000);
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
      if (/listening on/.test(err)) {
        clearTimeout(timer);
        resolve({ stop });
      }
    });
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(new MeshError('MESH_ERR_NO_TOOL', `cannot run tcpdump in ${netns}: ${e.message}; npm run setup installs it`));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new MeshError('MESH_ERR_COMMAND', `tcpdump in ${netns} exited before listening: ${err.trim() || 'no output'}`));
    });
  });
}
