// `nodemesh agent`: runs the node agent until SIGTERM/SIGINT, then stops it without cleanup (pins
// and links stay, so a restarted agent resumes with no gap). `nodemesh agent cleanup` is the
// uninstall: it removes a node's pins, which detaches its programs and frees its maps, and with
// --routing the node's policy routing (what `nodemesh uninstall`'s cleanup DaemonSet runs).

import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { MeshError } from '../common/errors.js';
import { repoPath } from '../common/paths.js';
import type * as AgentModule from '../agent/src/index.js';
import { intFlag, parseFlags, requireString } from './args.js';
import { usageOf } from './commands.js';

/** The agent as one bundled module (scripts/bundle-agent.sh): the long-running agent process then
 *  holds one script instead of ~600 modules (about 10 MiB less RSS, bench/README.md). */
async function loadAgent(): Promise<typeof AgentModule> {
  const file = repoPath('dist/agent.bundle.mjs');
  if (!existsSync(file)) throw new MeshError('MESH_ERR_NOT_BUILT', `${file} is missing; run "npm run build"`);
  return import(pathToFileURL(file).href) as Promise<typeof AgentModule>;
}

export async function agentRun(argv: string[]): Promise<number> {
  const usage = usageOf(['agent']);
  const { values } = parseFlags(argv, {
    node: { type: 'string' },
    manifests: { type: 'string' },
    controller: { type: 'string' },
    'token-file': { type: 'string' },
    'state-dir': { type: 'string' },
    'pin-dir': { type: 'string' },
    'admin-port': { type: 'string' },
    'admin-socket': { type: 'string' },
  }, usage);
  const nodeName = requireString(values, 'node', usage);
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  if (!str('manifests') && !str('controller')) throw new MeshError('MESH_ERR_USAGE', `give --controller HOST:PORT or --manifests DIR\nusage: ${usage}`);
  const adminPort = intFlag(values, 'admin-port', usage, { min: 1, max: 65535 });
  const pinDir = typeof values['pin-dir'] === 'string' ? values['pin-dir'] : `/sys/fs/bpf/nodemesh/${nodeName}`;
  // Signals that arrive while the agent starts are held until it can be stopped properly.
  let signalled: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (s: NodeJS.Signals): void => { signalled ??= s; wake?.(); };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const { runAgent } = await loadAgent();
    const handle = await runAgent({
      nodeName,
      pinDir,
      ...(str('manifests') ? { manifestsDir: str('manifests')! } : {}),
      ...(str('controller') ? { controller: str('controller')! } : {}),
      ...(str('token-file') ? { tokenFile: str('token-file')! } : {}),
      ...(str('state-dir') ? { stateDir: str('state-dir')! } : {}),
      ...(adminPort !== undefined ? { adminPort } : {}),
      ...(typeof values['admin-socket'] === 'string' ? { adminSocket: values['admin-socket'] } : {}),
    });
    if (!signalled) await new Promise<void>((resolve) => { wake = resolve; });
    await handle.stop({ cleanup: false });
    // Whatever native handle might still hold the loop open, a stopped agent exits.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

export async function agentCleanup(argv: string[]): Promise<number> {
  const usage = usageOf(['agent', 'cleanup']);
  const { values } = parseFlags(argv, { 'pin-dir': { type: 'string' }, routing: { type: 'boolean' } }, usage);
  const pinDir = requireString(values, 'pin-dir', usage);
  if (process.getuid?.() !== 0) throw new MeshError('MESH_ERR_NOT_ROOT', 'removing BPF pins needs root; run with sudo');
  const { cleanupPins } = await import('../native/index.js');
  const n = cleanupPins(pinDir);
  process.stdout.write(`removed ${n} pin(s) under ${pinDir}\n`);
  if (values.routing === true) {
    // the policy routing the agent installed in this network namespace (its fwmark rule and table)
    const { removePolicyRouting } = await import('../agent/src/capture/index.js');
    removePolicyRouting();
    process.stdout.write('removed the policy routing rule and table\n');
  }
  return 0;
}
