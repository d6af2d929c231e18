#!/usr/bin/env node
// The nodemesh command: runs the compiled CLI from dist/ (npm run build produces it). Plain
// JavaScript so it works before anything is built, and says how to build when dist/ is missing.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('MESH_ERR_NOT_BUILT: run "npm run build"\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
