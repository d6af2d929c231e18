// A real kube-apiserver + etcd for tests, from the binaries scripts/build-kube.sh builds: random
// loopback ports, a temp dir (self-signed serving certs, token file, service-account keys, etcd
// data), RBAC, a token kubeconfig per identity, and teardown on stop() and on process exit.
// No kubelet, controller-manager or scheduler: objects are stored and validated, nothing runs.

import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { MeshError } from '../../common/errors.js';
import { exited, freePorts, kubeBin, killGroup, run, startReaper, type RunResult } from './procs.js';

export { kubeBin, kubeGate, missingKubeTools, KUBE_BIN_DIR, REPO_ROOT, run, type RunResult } from './procs.js';

/** An extra static-token identity, e.g. the controller's ServiceAccount, so RBAC can be exercised. */
export interface Identity {
  /** user name, e.g. system:serviceaccount:nodemesh-system:nodemesh-controller */
  readonly user: string;
  readonly groups?: readonly string[];
}

export interface ApiServerOptions {
  /** extra identities by a short name of your choice; each gets a token and a kubeconfig */
  readonly identities?: Readonly<Record<string, Identity>>;
  /** admission plugins to switch off; default ServiceAccount (no controller creates "default" SAs) */
  readonly disableAdmissionPlugins?: readonly string[];
  /** how long to wait for /readyz; default 60 s */
  readonly readyTimeoutMs?: number;
}

export interface KubectlOptions {
  /** text for kubectl's stdin (use with -f -) */
  readonly stdin?: string;
  /** run as one of `identities` instead of the admin */
  readonly as?: string;
  readonly timeoutMs?: number;
}

export interface ApiServer {
  /** admin kubeconfig (user in system:masters) */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  readonly server: string;
  /** admin bearer token */
  readonly token: string;
  /** bearer token of each extra identity, by its short name */
  readonly tokens: Readonly<Record<string, string>>;
  /** kubeconfig of each extra identity, by its short name */
  readonly kubeconfigs: Readonly<Record<string, string>>;
  /** milliseconds from spawning etcd to a ready /readyz */
  readonly startupMs: number;
  /** runs the self-built kubectl (same version as the server) against this server */
  kubectl(args: readonly string[], opts?: KubectlOptions): Promise<RunResult>;
  /** stops both processes and removes the temp dir; safe to call twice */
  stop(): Promise<void>;
}

const ADMIN_USER = 'nodemesh-test-admin';
const SERVICE_CIDR = '10.96.0.0/16';

function writeKubeconfig(file: string, server: string, user: string, token: string): void {
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'nodemesh-test', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'nodemesh-test', context: { cluster: 'nodemesh-test', user } }],
    'current-context': 'nodemesh-test',
  };
  writeFileSync(file, stringify(cfg), { mode: 0o600 });
}

/** GET path with the bearer token; resolves the HTTP status (0 when the connection failed). */
function probe(server: string, token: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(`${server}${p}`, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts etcd and kube-apiserver on loopback; resolves once /readyz answers 200. A port taken by
 * someone else between picking and binding it gives one more attempt on fresh ports.
 */
export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  try {
    return await startOnce(opts);
  } catch (e) {
    if (!(e instanceof MeshError && /address already in use/.test(e.message))) throw e;
    return startOnce(opts);
  }
}

async function startOnce(opts: ApiServerOptions): Promise<ApiServer> {
  const bins = { etcd: kubeBin('etcd'), apiserver: kubeBin('kube-apiserver'), kubectl: kubeBin('kubectl') };
  const t0 = Date.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'nm-kube-'));
  const pidFile = path.join(dir, 'pids');
  writeFileSync(pidFile, '');
  const reaper = startReaper(pidFile, dir);
  const children: ChildProcess[] = [];
  let stopped = false;

  // Last resort if the test process exits without stop(): synchronous, so SIGKILL and rm now.
  const onExit = (): void => {
    for (const c of children) killGroup(c, 'SIGKILL');
    killGroup(reaper, 'SIGKILL'); // with its `sleep`
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  const daemon = (name: string, bin: string, args: string[]): ChildProcess => {
    const log = openSync(path.join(dir, `${name}.log`), 'a');
    // detached: its own process group, so the reaper (and stop) can kill it and anything it forks
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    if (child.pid !== undefined) appendFileSync(pidFile, `${child.pid}\n`);
    child.unref();
    children.push(child);
    return child;
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // apiserver first (it holds etcd connections), then etcd; SIGTERM, then SIGKILL after 10 s
    for (const c of [...children].reverse()) {
      if (killGroup(c, 'SIGTERM') && !(await exited(c, 10_000))) {
        killGroup(c, 'SIGKILL');
        await exited(c, 5_000);
      }
    }
    killGroup(reaper, 'SIGKILL'); // with its `sleep`
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', onExit);
  };

  try {
    const certDir = path.join(dir, 'certs');
    mkdirSync(certDir);
    const [etcdClient, etcdPeer, securePort] = await freePorts(3) as [number, number, number];
    const server = `https://127.0.0.1:${securePort}`;

    const etcd = daemon('etcd', bins.etcd, [
      '--name=nodemesh-test',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=nodemesh-test=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);

    // Tokens: the admin in system:masters, then one per extra identity.
    const token = randomBytes(24).toString('hex');
    const rows = [`${token},${ADMIN_USER},${ADMIN_USER},"system:masters"`];
    const tokens: Record<string, string> = {};
    const kubeconfigs: Record<string, string> = {};
    for (const [short, id] of Object.entries(opts.identities ?? {})) {
      if (!/^[a-z0-9-]+$/.test(short) || /[,"\n]/.test(id.user) || (id.groups ?? []).some((g) => /[,"\n]/.test(g))) {
        throw new MeshError('MESH_ERR_INVALID_ARG', `identity ${short}: names must not contain commas, quotes or newlines`);
      }
      tokens[short] = randomBytes(24).toString('hex');
      rows.push(`${tokens[short]},${id.user},${id.user},"${(id.groups ?? []).join(',')}"`);
    }
    writeFileSync(path.join(dir, 'tokens.csv'), `${rows.join('\n')}\n`, { mode: 0o600 });

    // Service-account token signing keys (TokenRequest, projected tokens, TokenReview).
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' } });
    writeFileSync(path.join(dir, 'sa.pub'), sa.publicKey);
    writeFileSync(path.join(dir, 'sa.key'), sa.privateKey, { mode: 0o600 });

    const apiserver = daemon('kube-apiserver', bins.apiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${securePort}`,
      `--cert-dir=${certDir}`, // no --tls-cert-file: the server self-signs into this dir
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=RBAC',
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--allow-privileged=true', // the agent DaemonSet is privileged
      `--disable-admission-plugins=${(opts.disableAdmissionPlugins ?? ['ServiceAccount']).join(',')}`,
      '--anonymous-auth=false',
      '--profiling=false',
      '--v=1',
    ]);

    const deadline = t0 + (opts.readyTimeoutMs ?? 60_000);
    for (;;) {
      for (const [name, c] of [['etcd', etcd], ['kube-apiserver', apiserver]] as const) {
        if (c.exitCode !== null || c.signalCode !== null) {
          throw new MeshError('MESH_ERR_COMMAND', `${name} exited (${c.exitCode ?? c.signalCode}) during startup:\n${tail(path.join(dir, `${name}.log`))}`);
        }
      }
      const r = await probe(server, token, '/readyz');
      if (r.status === 200) break;
      if (Date.now() > deadline) {
        throw new MeshError('MESH_ERR_COMMAND', `kube-apiserver not ready after ${opts.readyTimeoutMs ?? 60_000} ms (last /readyz: ${r.status} ${r.body.slice(0, 400)}):\n${tail(path.join(dir, 'kube-apiserver.log'))}`);
      }
      await new Promise((res) => setTimeout(res, 250));
    }

    const kubeconfigPath = path.join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, server, ADMIN_USER, token);
    for (const [short, tok] of Object.entries(tokens)) {
      kubeconfigs[short] = path.join(dir, `kubeconfig-${short}`);
      writeKubeconfig(kubeconfigs[short], server, short, tok);
    }

    const kubectl = (args: readonly string[], o: KubectlOptions = {}): Promise<RunResult> => {
      const kc = o.as === undefined ? kubeconfigPath : kubeconfigs[o.as];
      if (kc === undefined) throw new MeshError('MESH_ERR_INVALID_ARG', `unknown identity ${o.as ?? ''}`);
      const env = { ...process.env, KUBECONFIG: kc, HOME: dir, KUBECACHEDIR: path.join(dir, 'kubecache') };
      return run(bins.kubectl, args, { env, ...(o.stdin !== undefined ? { stdin: o.stdin } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) });
    };

    return { kubeconfigPath, server, token, tokens, kubeconfigs, startupMs: Date.now() - t0, kubectl, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
