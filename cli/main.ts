// Entry of the nodemesh CLI (bin/nodemesh.js imports it): finds the command, runs it, prints a
// MeshError as "MESH_ERR_*: message" and sets the exit code (2 for usage errors, 1 otherwise).

import { MeshError, isMeshError } from '../common/errors.js';
import { findCommand, helpText } from './commands.js';

export async function run(argv: readonly string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    throw new MeshError('MESH_ERR_USAGE', `unknown command "${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}"; run "nodemesh --help" for the list`);
  }
  if (found.rest.includes('--help') && !found.rest.slice(0, found.rest.indexOf('--help')).includes('--')) {
    process.stdout.write(`usage: ${found.command.usage}\n${found.command.summary}\n`);
    return 0;
  }
  const cmd = await found.command.load();
  return cmd(found.rest);
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    process.exitCode = await run(argv);
  } catch (e) {
    if (isMeshError(e)) {
      process.stderr.write(`${e.code}: ${e.message}\n`);
      process.exitCode = e.code === 'MESH_ERR_USAGE' ? 2 : 1;
    } else {
      process.stderr.write(`MESH_ERR_COMMAND: unexpected failure (a bug, please report it): ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  }
}
