// Every flag the deploy/ manifests pass to `nodemesh controller` and `nodemesh agent` is one the CLI
// accepts: the dry run against the API server validates objects, this validates the commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../../../native/index.js';
import { COMMANDS } from '../../../cli/commands.js';

function containerArgs(file: string): Array<{ command: string; args: string[] }> {
  const out: Array<{ command: string; args: string[] }> = [];
  for (const doc of parseAllDocuments(readFileSync(`${ROOT}/deploy/base/${file}`, 'utf8'))) {
    const o = doc.toJS() as { spec?: { template?: { spec?: { containers?: Array<{ command?: string[]; args?: string[] }> } } } } | null;
    for (const c of o?.spec?.template?.spec?.containers ?? []) {
      const argv = [...(c.command ?? []), ...(c.args ?? [])];
      const i = argv.findIndex((a) => a === 'controller' || a === 'agent');
      if (i >= 0) out.push({ command: argv[i]!, args: argv.slice(i + 1) });
    }
  }
  return out;
}

for (const [file, cmd] of [['controller.yaml', 'controller'], ['agent.yaml', 'agent']] as const) {
  test(`deploy/base/${file}: every flag of "nodemesh ${cmd}" exists`, () => {
    const found = containerArgs(file).filter((c) => c.command === cmd);
    assert.ok(found.length > 0, `no nodemesh ${cmd} container in ${file}`);
    const usage = COMMANDS.find((c) => c.words.join(' ') === cmd)!.usage;
    for (const { args } of found) {
      for (const a of args.filter((x) => x.startsWith('--'))) {
        const flag = a.split('=')[0]!;
        assert.ok(usage.includes(flag), `${flag} (in ${file}) is not in: ${usage}`);
      }
    }
  });
}
