// Policy routing that delivers steered packets locally (redirection-facts §A): packets marked by
// the tc program are looked up in table MESH_ROUTE_TABLE, whose only route is `local 0.0.0.0/0 dev
// lo`. Idempotent; runs once at agent start in the node's network namespace.

import { execFileSync } from 'node:child_process';
import { MESH_MARK, MESH_ROUTE_TABLE } from '../../../common/layout.js';
import { MeshError } from '../../../common/errors.js';

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new MeshError('MESH_ERR_ROUTING', `ip ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}; is iproute2 installed and are we root?`);
  }
}

const RULE_PREF = '1000';

export function installPolicyRouting(): void {
  const mark = `0x${MESH_MARK.toString(16)}`;
  if (!ip(['rule', 'show', 'pref', RULE_PREF]).includes(`lookup ${MESH_ROUTE_TABLE}`)) {
    ip(['rule', 'add', 'pref', RULE_PREF, 'fwmark', mark, 'lookup', String(MESH_ROUTE_TABLE)]);
  }
  ip(['route', 'replace', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(MESH_ROUTE_TABLE)]);
}

export function removePolicyRouting(): void {
  try { ip(['rule', 'del', 'pref', RULE_PREF]); } catch { /* already gone */ }
  try { ip(['route', 'flush', 'table', String(MESH_ROUTE_TABLE)]); } catch { /* already gone */ }
}
