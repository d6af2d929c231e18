// Where the checkout's files are at run time (proto/, deploy/crds, build/, dist/): found by walking
// up from the running module to package.json, so the same code works from dist/ and from the
// bundled agent (dist/agent.bundle.mjs), whose modules no longer sit at their source depth.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeshError } from './errors.js';

let root: string | undefined;

/** The repository (or image) root: the nearest directory above this module with a package.json. */
export function repoRoot(): string {
  if (root !== undefined) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new MeshError('MESH_ERR_NOT_BUILT', `cannot find the nodemesh root above ${fileURLToPath(import.meta.url)}; run nodemesh from its checkout or image`);
    dir = up;
  }
  root = dir;
  return dir;
}

/** A path under the root, from '/'-separated parts: repoPath('proto/nodemesh/config/v1/config.proto'). */
export function repoPath(rel: string): string {
  return path.join(repoRoot(), ...rel.split('/'));
}
