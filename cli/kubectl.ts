// Runs kubectl for install, uninstall and check --pre: the user's kubectl (or --kubectl PATH) with
// their --kubeconfig/--context, stdin for `-f -`, output captured. A missing kubectl or a failed
// call becomes MESH_ERR_COMMAND with kubectl's own message.

import { spawn } from 'node:child_process';
import { MeshError } from '../common/errors.js';

export interface KubectlTarget {
  readonly kubectl: string;
  readonly kubeconfig?: string;
  readonly context?: string;
}

export interface KubectlResult { readonly code: number; readonly stdout: string; readonly stderr: string }

export function kubectlRun(t: KubectlTarget, args: readonly string[], stdin?: string, timeoutMs = 120_000): Promise<KubectlResult> {
  const full = [...(t.kubeconfig ? ['--kubeconfig', t.kubeconfig] : []), ...(t.context ? ['--context', t.context] : []), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(t.kubectl, full, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (e) => { clearTimeout(timer); reject(new MeshError('MESH_ERR_NO_TOOL', `cannot run ${t.kubectl}: ${e.message}; install kubectl or pass --kubectl PATH`, { cause: e })); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? 1, stdout, stderr }); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}

/** kubectl that must succeed; `what` says what it was for. */
export async function kubectlOk(t: KubectlTarget, args: readonly string[], what: string, stdin?: string): Promise<string> {
  const r = await kubectlRun(t, args, stdin);
  if (r.code !== 0) throw new MeshError('MESH_ERR_COMMAND', `${what} failed: kubectl ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}
