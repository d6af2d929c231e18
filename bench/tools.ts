// Builds the bench's own C tools (bench/tools/*.c: the connrate client and the echo server of the
// new-connection cell) with cc into the run's temp dir; binaries are never written into the tree.

import { execFileSync } from 'node:child_process';
import path from 'node:path';

export interface BenchTools {
  readonly connrate: string;
  readonly echo: string;
}

export const TOOL_NAMES = ['connrate', 'echo'] as const;

/** The cc command line that builds one tool. */
export function ccArgs(source: string, out: string): string[] {
  return ['-O2', '-Wall', '-Wextra', '-Werror', '-pthread', '-o', out, source];
}

/** Compiles every tool from `root`/bench/tools into `dir`; throws with cc's output on failure. */
export function buildTools(root: string, dir: string): BenchTools {
  const out: Partial<Record<(typeof TOOL_NAMES)[number], string>> = {};
  for (const name of TOOL_NAMES) {
    const bin = path.join(dir, name);
    try {
      execFileSync('cc', ccArgs(path.join(root, 'bench', 'tools', `${name}.c`), bin), { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const o = e as { stderr?: Buffer; message: string };
      throw new Error(`building bench/tools/${name}.c with cc failed (install gcc): ${o.stderr?.toString().trim() || o.message}`);
    }
    out[name] = bin;
  }
  return out as BenchTools;
}
