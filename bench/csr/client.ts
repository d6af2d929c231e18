// A load-generating child of the CSR benchmark: for its share of the simulated nodes it opens one
// gRPC channel per node (the agent's own GrpcSigner), generates P-256 keys and CSRs for the nodes'
// identities ahead of time (the agent's cost, not the controller's), then on "go" keeps `concurrency`
// Sign RPCs in flight for warm-up + window seconds and reports client-observed latencies.

import { GrpcSigner, SignError } from '../../agent/src/identity/index.js';
import { P256, createCsr, subtle } from '../../controller/src/ca/index.js';
import type { SimNode } from './config.js';

export type ClientCmd =
  | { kind: 'init'; address: string; nodes: SimNode[]; pool: number }
  | { kind: 'go'; warmupSeconds: number; seconds: number; concurrency: number }
  | { kind: 'stop' };

export type ClientReply =
  | { kind: 'ready'; generated: number; generateMs: number }
  | { kind: 'window'; edge: 'start' | 'end' }
  | { kind: 'done'; signed: number; windowSeconds: number; latenciesMs: number[]; errors: Record<string, number>; outside: number }
  | { kind: 'error'; message: string };

interface Job { readonly signer: GrpcSigner; readonly identity: string; readonly csr: string }

const send = (m: ClientReply): void => { process.send?.(m); };
let jobs: Job[] = [];
let signers: GrpcSigner[] = [];

async function init(address: string, nodes: readonly SimNode[], pool: number): Promise<void> {
  signers = nodes.map((n) => new GrpcSigner({ address, node: n.node, token: n.token, timeoutMs: 30_000 }));
  const t0 = performance.now();
  const slots = nodes.flatMap((n, i) => n.identities.map((identity) => ({ signer: signers[i]!, identity })));
  jobs = [];
  for (let i = 0; i < pool; i++) {
    const s = slots[i % slots.length]!;
    const keys = await subtle.generateKey(P256, true, ['sign', 'verify']);
    jobs.push({ ...s, csr: await createCsr(s.identity, keys) });
  }
  send({ kind: 'ready', generated: jobs.length, generateMs: performance.now() - t0 });
}

async function go(warmupSeconds: number, seconds: number, concurrency: number): Promise<void> {
  const t0 = performance.now();
  const start = t0 + warmupSeconds * 1000;
  const end = start + seconds * 1000;
  const latenciesMs: number[] = [];
  const errors: Record<string, number> = {};
  let outside = 0;
  let next = 0;
  let startSent = false;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const job = jobs[next++ % jobs.length]!;
      const a = performance.now();
      if (!startSent && a >= start) { startSent = true; send({ kind: 'window', edge: 'start' }); }
      try {
        await job.signer.sign(job.identity, job.csr);
        const b = performance.now();
        if (a >= start && b <= end) latenciesMs.push(b - a); else outside++;
      } catch (e) {
        const code = e instanceof SignError ? (e.remoteCode ?? `grpc ${e.grpcCode ?? '?'}`) : (e as Error).message;
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  const ends = Array.from({ length: concurrency }, () => loop());
  // the window's end is a clock edge, not the last reply (replies still in flight are not counted)
  setTimeout(() => send({ kind: 'window', edge: 'end' }), Math.max(0, end - performance.now()));
  await Promise.all(ends);
  send({ kind: 'done', signed: latenciesMs.length, windowSeconds: seconds, latenciesMs, errors, outside });
}

process.on('message', (m: ClientCmd) => {
  const fail = (e: unknown): void => send({ kind: 'error', message: (e as Error).stack ?? String(e) });
  if (m.kind === 'init') init(m.address, m.nodes, m.pool).catch(fail);
  else if (m.kind === 'go') go(m.warmupSeconds, m.seconds, m.concurrency).catch(fail);
  else { for (const s of signers) s.close(); process.exit(0); }
});
