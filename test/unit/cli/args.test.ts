// CLI argument handling: command lookup, --help, flags and usage errors (MESH_ERR_USAGE with the
// usage line), the `--` split of exec, and check's evaluation with fake probes. No root.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../../../native/index.js';
import { intFlag, parseFlags, requireString, splitCommand } from '../../../cli/args.js';
import { COMMANDS, findCommand, helpText } from '../../../cli/commands.js';
import { run } from '../../../cli/main.js';
import { evaluateChecks, formatChecks, kernelVersion, type Probe } from '../../../cli/check.js';

const usage = 'nodemesh x --a N';
const isUsage = (re: RegExp) => (e: Error & { code?: string }): boolean => e.code === 'MESH_ERR_USAGE' && re.test(e.message) && e.message.includes(`usage: ${usage}`);

test('findCommand picks the longest matching command', () => {
  assert.deepEqual(findCommand(['agent', 'cleanup', '--pin-dir', 'x'])?.command.words, ['agent', 'cleanup']);
  assert.deepEqual(findCommand(['agent', '--node', 'n'])?.rest, ['--node', 'n']);
  assert.deepEqual(findCommand(['cluster', 'exec', 'a/b', '--', 'ls'])?.rest, ['a/b', '--', 'ls']);
  assert.equal(findCommand(['cluster']), undefined);
  assert.equal(findCommand(['nope']), undefined);
});

test('--help lists every command with its usage', () => {
  const h = helpText();
  for (const c of COMMANDS) {
    assert.ok(h.includes(c.words.join(' ')), c.words.join(' '));
    assert.ok(h.includes(c.usage), c.usage);
  }
  for (const w of ['cluster up', 'cluster exec', 'cluster down', 'check', 'workload echo', 'workload get', 'agent', 'demo']) assert.ok(h.includes(w));
});

test('unknown commands and flags are MESH_ERR_USAGE', async () => {
  await assert.rejects(run(['frobnicate']), { code: 'MESH_ERR_USAGE' });
  await assert.rejects(run(['workload', 'get', 'http://x/', '--bogus']), (e: Error & { code?: string }) => e.code === 'MESH_ERR_USAGE' && /unknown option '--bogus'/.test(e.message) && /usage: nodemesh workload get/.test(e.message));
  await assert.rejects(run(['cluster', 'up']), (e: Error & { code?: string }) => e.code === 'MESH_ERR_USAGE' && /--manifests is required/.test(e.message));
  await assert.rejects(run(['workload', 'echo']), { code: 'MESH_ERR_USAGE' });
  await assert.rejects(run(['workload', 'echo', '--http', '99999']), (e: Error) => /--http must be an integer in 1..65535/.test(e.message));
  await assert.rejects(run(['workload', 'get', 'ftp://x/']), (e: Error) => /only http:\/\//.test(e.message));
  await assert.rejects(run(['cluster', 'exec', 'shop/client']), (e: Error) => /after "--"/.test(e.message));
  await assert.rejects(run(['cluster', 'exec', '--', 'ls']), (e: Error) => /name a pod/.test(e.message));
  await assert.rejects(run(['cluster', 'exec', 'noslash', '--', 'ls']), (e: Error) => /is not NAMESPACE\/POD/.test(e.message));
  await assert.rejects(run(['cluster', 'exec', 'a/b', '--node', 'n', '--', 'ls']), (e: Error) => /not both/.test(e.message));
  await assert.rejects(run(['agent', '--node', 'n']), (e: Error & { code?: string }) => e.code === 'MESH_ERR_USAGE' && /--controller HOST:PORT or --manifests DIR/.test(e.message));
  await assert.rejects(run(['agent', 'cleanup']), (e: Error) => /--pin-dir is required/.test(e.message));
});

test('parseFlags: positionals bounds, required strings and integer ranges', () => {
  const opts = { a: { type: 'string' as const } };
  assert.deepEqual(parseFlags(['--a', '3', 'p'], opts, usage, { min: 1, max: 1 }).positionals, ['p']);
  assert.throws(() => parseFlags([], opts, usage, { min: 1, max: 1 }), isUsage(/missing argument/));
  assert.throws(() => parseFlags(['p', 'q'], opts, usage, { max: 1 }), isUsage(/unexpected argument "q"/));
  assert.throws(() => parseFlags(['--a'], opts, usage), isUsage(/argument missing/));
  assert.throws(() => requireString({}, 'a', usage), isUsage(/--a is required/));
  assert.equal(intFlag({ a: '42' }, 'a', usage, { min: 1, max: 100 }), 42);
  assert.equal(intFlag({}, 'a', usage, { min: 1, max: 100 }), undefined);
  for (const bad of ['0', '101', '-1', '1.5', 'x', '']) assert.throws(() => intFlag({ a: bad }, 'a', usage, { min: 1, max: 100 }), isUsage(/integer in 1..100/));
});

test('splitCommand keeps everything after the first "--", including later "--"', () => {
  assert.deepEqual(splitCommand(['a/b', '--', 'sh', '-c', 'x', '--', 'y'], usage), { before: ['a/b'], command: ['sh', '-c', 'x', '--', 'y'] });
  assert.throws(() => splitCommand(['a/b', '--'], usage), isUsage(/no command/));
});

test('check: every failure carries its code and fix; kernel TLS is informational', () => {
  const ok: Probe = {
    uid: () => 0, exists: () => true, kernelRelease: () => '6.18.44-fc', which: (t) => `/usr/bin/${t}`,
    mounts: () => 'bpf /sys/fs/bpf bpf rw 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n',
    read: () => 'mptcp\n',
  };
  const good = evaluateChecks(ok, { addon: '/a', bpfObject: '/b' });
  assert.ok(good.filter((r) => r.required).every((r) => r.ok));
  assert.deepEqual(good.find((r) => r.name === 'kernel TLS'), { name: 'kernel TLS', ok: false, required: false, detail: 'not available (ULPs: mptcp); TLS records are encrypted in user space' });
  const bad: Probe = { ...ok, uid: () => 1000, exists: () => false, mounts: () => '', kernelRelease: () => '6.1.0-18-amd64', which: () => undefined };
  const res = evaluateChecks(bad, { addon: '/a', bpfObject: '/b' });
  const codes = Object.fromEntries(res.filter((r) => !r.ok && r.required).map((r) => [r.name, r.code]));
  assert.deepEqual(codes, {
    root: 'MESH_ERR_NOT_ROOT', BTF: 'MESH_ERR_NO_BTF', bpffs: 'MESH_ERR_NO_BPFFS', cgroup2: 'MESH_ERR_NO_CGROUP2', TCX: 'MESH_ERR_NO_TCX',
    clang: 'MESH_ERR_NO_TOOL', bpftool: 'MESH_ERR_NO_TOOL', ip: 'MESH_ERR_NO_TOOL', nsenter: 'MESH_ERR_NO_TOOL',
    'native addon': 'MESH_ERR_NOT_BUILT', 'BPF object': 'MESH_ERR_NOT_BUILT',
  });
  const text = formatChecks(res);
  assert.match(text, /FAIL {2}bpffs .*MESH_ERR_NO_BPFFS: .*fix: mount -t bpf bpf \/sys\/fs\/bpf/);
  assert.equal(text.split('\n').length, res.length, 'one line per check');
  assert.deepEqual(kernelVersion('6.6.0'), [6, 6]);
  assert.deepEqual(kernelVersion('junk'), [0, 0]);
});

test('bin/nodemesh.js: --help exits 0, a usage error exits 2 with the code on stderr', () => {
  const bin = path.join(ROOT, 'bin', 'nodemesh.js');
  assert.match(execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' }), /cluster up/);
  const r = spawnSync(process.execPath, [bin, 'workload', 'get', '--nope'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^MESH_ERR_USAGE: unknown option '--nope'/);
  assert.match(r.stderr, /usage: nodemesh workload get URL/);
});

test('a negative value may follow its flag spaced, as the usage lines write it (--ui-port -1)', () => {
  const spec = { 'ui-port': { type: 'string' as const }, verbose: { type: 'boolean' as const } };
  assert.equal(parseFlags(['--ui-port', '-1'], spec, 'u').values['ui-port'], '-1');
  assert.equal(parseFlags(['--ui-port=-1'], spec, 'u').values['ui-port'], '-1');
  assert.equal(intFlag(parseFlags(['--ui-port', '-1', '--verbose'], spec, 'u').values, 'ui-port', 'u', { min: -1, max: 65535 }), -1);
  // after `--` nothing is rewritten, and a boolean flag never takes a value
  assert.deepEqual(parseFlags(['--verbose', '--', '--ui-port', '-1'], spec, 'u', { max: 3 }).positionals, ['--ui-port', '-1']);
  assert.throws(() => parseFlags(['--verbose', '-1'], spec, 'u'), /MESH_ERR_USAGE|unknown option/);
});
