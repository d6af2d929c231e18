// The CSR benchmark's result: what was measured (over gRPC, in process), its table for the
// terminal or bench/README.md, and the verdict on the issue's target (≥ 1,000 CSRs/s). Pure.

import { fmtNum, table, type Style } from '../render.js';
import type { ProfileSummary } from '../scale/profile.js';

export const TARGET_CSR_PER_SEC = 1000;

export interface CsrResult {
  readonly config: Readonly<Record<string, number>>;
  readonly grpc: {
    readonly signedPerSec: number;
    readonly signed: number;
    readonly windowSeconds: number;
    readonly errors: Readonly<Record<string, number>>;
    /** client-observed, ms */
    readonly p50Ms: number | undefined;
    readonly p99Ms: number | undefined;
    readonly maxMs: number | undefined;
    /** the controller's nodemesh_ca_sign_duration_seconds over the window, ms (bucket estimates) */
    readonly serverP50Ms: number | undefined;
    readonly serverP99Ms: number | undefined;
    readonly serverMeanMs: number | undefined;
    readonly serverCount: number | undefined;
    /** controller process CPU (all its threads) per signed CSR, and as a share of one core */
    readonly controllerCpuMsPerCsr: number | undefined;
    readonly controllerCores: number | undefined;
  };
  /** in process, no gRPC: MeshCA.sign() one at a time, its two halves, and a SignPool */
  readonly inProcess: {
    readonly signPerSec: number;
    readonly checkCsrPerSec: number;
    readonly issuePerSec: number;
    readonly signPoolPerSec?: number;
    readonly signPoolWorkers?: number;
  };
  /** BENCH_CSR_PROFILE=1: where the controller process spent a second window */
  readonly profile?: ProfileSummary;
}

const ms = (v: number | undefined): string => (v === undefined ? '–' : fmtNum(v));

export function verdict(r: CsrResult): string {
  const v = r.grpc.signedPerSec;
  return v >= TARGET_CSR_PER_SEC ? 'met' : `missed by ${fmtNum(TARGET_CSR_PER_SEC - v, 0)}/s (${fmtNum(v / TARGET_CSR_PER_SEC, 2)} of the target)`;
}

export function renderCsr(r: CsrResult, style: Style): string {
  const g = r.grpc;
  const p = r.inProcess;
  const errs = Object.entries(g.errors).map(([k, n]) => `${k} × ${n}`).join(', ') || 'none';
  const rows: string[][] = [
    ['gRPC Sign (CertificateService, real channel per node)', fmtNum(g.signedPerSec, 0), ms(g.p50Ms), ms(g.p99Ms), ms(g.serverP50Ms), ms(g.serverP99Ms), g.controllerCpuMsPerCsr === undefined ? '–' : fmtNum(g.controllerCpuMsPerCsr)],
    ['in process: MeshCA.sign() one at a time', fmtNum(p.signPerSec, 0), ms(1000 / p.signPerSec), '–', '–', '–', '–'],
    ['  of which checkCsr() (parse + verify the CSR)', fmtNum(p.checkCsrPerSec, 0), ms(1000 / p.checkCsrPerSec), '–', '–', '–', '–'],
    ['  of which issue() (build + sign the leaf)', fmtNum(p.issuePerSec, 0), ms(1000 / p.issuePerSec), '–', '–', '–', '–'],
  ];
  if (p.signPoolPerSec !== undefined) rows.push([`in process: SignPool, ${p.signPoolWorkers} worker threads`, fmtNum(p.signPoolPerSec, 0), '–', '–', '–', '–', '–']);
  const c = r.config;
  return [
    table(['path', 'CSRs/s', 'p50 ms (client)', 'p99 ms (client)', 'p50 ms (controller histogram)', 'p99 ms (controller)', 'controller CPU ms / CSR'], rows, style),
    '',
    `${c.nodes} nodes × ${c.identitiesPerNode} identities, ${c.concurrency} requests in flight, ${c.seconds} s window after 1 s of warm-up, ${c.pool} distinct CSRs cycled; `
      + `${g.signed} signed in the window; errors: ${errs}; controller ${g.controllerCores === undefined ? '–' : fmtNum(g.controllerCores, 2)} cores busy; `
      + `controller histogram: ${g.serverCount ?? '–'} observations, mean ${ms(g.serverMeanMs)} ms.`,
    '',
    `Target ≥ ${TARGET_CSR_PER_SEC} CSRs/s over gRPC: ${verdict(r)}.`,
    '',
  ].join('\n');
}
