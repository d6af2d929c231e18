// Every flag the deploy/ manifests pass to `nodemesh controller` and `nodemesh agent` is one the CLI
// accepts: the dry run against the API server validates objects, this validates the commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../../../native/index.js';
import { COMMANDS } from '../../../cli/commands.js';
import { AGENT_ENV, AGENT_NODE_FLAGS, IMAGE_CLI } from '../../../common/agent-process.js';

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

test('the DaemonSet (deploy/base and the Helm chart) starts the agent as the simulated cluster does', () => {
  for (const file of [`${ROOT}/deploy/base/agent.yaml`, `${ROOT}/deploy/helm/nodemesh/templates/agent.yaml`]) {
    // the chart's template directives sit in values, so the YAML of the container still parses
    const text = readFileSync(file, 'utf8').replace(/\{\{[^}]*\}\}/g, 'x');
    const containers = parseAllDocuments(text).flatMap((d) => ((d.toJS() as { spec?: { template?: { spec?: { containers?: Array<{ name: string; command?: string[]; env?: Array<{ name: string; value?: string }> }> } } } } | null)?.spec?.template?.spec?.containers ?? []));
    const agent = containers.find((c) => c.name === 'agent');
    assert.ok(agent, `no agent container in ${file}`);
    assert.deepEqual(agent.command, ['node', ...AGENT_NODE_FLAGS, IMAGE_CLI], `${file}: command`);
    for (const [k, v] of Object.entries(AGENT_ENV)) assert.equal(agent.env?.find((e) => e.name === k)?.value, v, `${file}: env ${k}`);
  }
});
