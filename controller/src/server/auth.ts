// Node credentials: an agent proves which node it runs on. The simulated cluster issues one random
// token per node (a JSON file {node: token}); in Kubernetes the agent's projected ServiceAccount
// token would be checked with a TokenReview. An agent may only ask for its own node's view.

import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { MeshError } from '../../../common/errors.js';

export interface NodeAuth {
  /** Resolves when `token` is valid for `node`; rejects with MESH_ERR_AUTH otherwise. */
  verify(node: string, token: string): Promise<void>;
}

export class TokenFileAuth implements NodeAuth {
  readonly #tokens: ReadonlyMap<string, string>;

  constructor(tokens: ReadonlyMap<string, string>) {
    this.#tokens = tokens;
  }

  static fromFile(file: string): TokenFileAuth {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new MeshError('MESH_ERR_CONFIG', `cannot read node tokens from ${file}: ${(e as Error).message}; it must be a JSON object {"<node>": "<token>"}`);
    }
    if (typeof parsed !== 'object' || parsed === null) throw new MeshError('MESH_ERR_CONFIG', `${file} must be a JSON object {"<node>": "<token>"}`);
    return new TokenFileAuth(new Map(Object.entries(parsed as Record<string, string>).map(([k, v]) => [k, String(v)])));
  }

  async verify(node: string, token: string): Promise<void> {
    const want = this.#tokens.get(node);
    const a = Buffer.from(token);
    const ok = want !== undefined && a.length === Buffer.byteLength(want) && timingSafeEqual(a, Buffer.from(want));
    if (!ok) throw new MeshError('MESH_ERR_AUTH', `the token presented is not valid for node "${node}"; an agent may only ask for its own node's view`);
  }
}
