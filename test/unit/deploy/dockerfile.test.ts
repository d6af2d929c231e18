// deploy/Dockerfile cannot be built here (no Docker engine), so this checks what can go stale without a
// build: every COPY/ADD source from the build context exists in the repository and is not excluded by
// .dockerignore, every --from names an earlier stage, and the runtime is a Node LTS image.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../kube/procs.js';

interface Instruction { readonly line: number; readonly op: string; readonly args: string }

/** Instructions with continuation lines joined; comments and blank lines dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const l = raw.trim();
    if (buf === '' && (l === '' || l.startsWith('#'))) return;
    if (buf === '') start = i + 1;
    if (l.startsWith('#')) return; // a comment inside a continued instruction
    if (l.endsWith('\\')) {
      buf += `${l.slice(0, -1)} `;
      return;
    }
    buf += l;
    const m = /^(\S+)\s+(.*)$/.exec(buf);
    if (m) out.push({ line: start, op: m[1]!.toUpperCase(), args: m[2]! });
    buf = '';
  });
  return out;
}

/** COPY/ADD arguments: flags, then sources, then the destination (shell or JSON form). */
function copyArgs(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (let m = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest); m; m = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest)) {
    flags[m[1]!] = m[2] ?? '';
    rest = rest.slice(m[0].length);
  }
  const words = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  return { flags, sources: words.slice(0, -1), dest: words[words.length - 1]! };
}

/** .dockerignore patterns as regexes (no "!" exceptions are used in ours; assert that). */
function ignoreRules(text: string): RegExp[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((p) => {
    assert.ok(!p.startsWith('!'), `.dockerignore exception "${p}" is not understood by this test`);
    const body = p.replace(/^\/+|\/+$/g, '').split('**').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('.*');
    return new RegExp(`^${body}(/.*)?$`);
  });
}

const DOCKERFILE = path.join(REPO_ROOT, 'deploy', 'Dockerfile');
const text = readFileSync(DOCKERFILE, 'utf8');
const all = instructions(text);

test('the Dockerfile parses into stages with COPY instructions', () => {
  assert.ok(all.filter((i) => i.op === 'FROM').length >= 2, 'multi-stage');
  assert.ok(all.some((i) => i.op === 'COPY'));
});

test('every COPY/ADD source from the build context exists and is not excluded by .dockerignore', () => {
  const ignore = ignoreRules(readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8'));
  let checked = 0;
  for (const ins of all.filter((i) => i.op === 'COPY' || i.op === 'ADD')) {
    const { flags, sources } = copyArgs(ins.args);
    assert.ok(sources.length > 0, `line ${ins.line}: ${ins.op} without a source`);
    if ('from' in flags) continue; // from another stage, checked below
    for (const src of sources) {
      assert.ok(!/^[a-z]+:\/\//.test(src), `line ${ins.line}: ${src} is a URL; the image must build from the repository only`);
      assert.ok(!src.includes('*'), `line ${ins.line}: ${src}: name files explicitly`);
      const rel = path.posix.normalize(src).replace(/\/+$/, '');
      assert.ok(!rel.startsWith('..') && !path.isAbsolute(rel), `line ${ins.line}: ${src} is outside the build context`);
      assert.ok(existsSync(path.join(REPO_ROOT, rel)), `line ${ins.line}: ${ins.op} ${src}: no such file or directory in the repository`);
      const hit = ignore.find((r) => r.test(rel));
      assert.equal(hit, undefined, `line ${ins.line}: ${src} is excluded by .dockerignore (${String(hit)})`);
      checked++;
    }
  }
  assert.ok(checked >= 10, `only ${checked} sources checked`);
});

test('every COPY --from names an earlier stage', () => {
  const stages = new Set<string>();
  for (const ins of all) {
    if (ins.op === 'FROM') {
      const m = /\s+AS\s+(\S+)\s*$/i.exec(ins.args);
      if (m) stages.add(m[1]!.toLowerCase());
    }
    if (ins.op === 'COPY') {
      const from = copyArgs(ins.args).flags.from;
      if (from !== undefined) assert.ok(stages.has(from.toLowerCase()), `line ${ins.line}: --from=${from} is not an earlier stage`);
    }
  }
  assert.deepEqual([...stages].sort(), ['bpf', 'native', 'ts']);
});

test('the runtime is a maintained Node LTS image and runs bin/nodemesh.js', () => {
  const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
  assert.match(nodeImage ?? '', /^node:(22|24)-bookworm-slim$/);
  const froms = all.filter((i) => i.op === 'FROM');
  assert.equal(froms[froms.length - 1]?.args, '${NODE_IMAGE}', 'the last stage is the runtime');
  const entry = all.find((i) => i.op === 'ENTRYPOINT');
  assert.ok(entry, 'ENTRYPOINT');
  const argv = JSON.parse(entry.args) as string[];
  assert.equal(argv[0], 'node');
  assert.ok(existsSync(path.join(REPO_ROOT, path.relative('/opt/nodemesh', argv[1]!))), `${argv[1]} is not in the repository`);
});

/** Relative imports reached from cli/main.ts (static and dynamic, string literals), as repo paths. */
function importClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  const re = /(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
  while (stack.length) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const m of readFileSync(path.join(REPO_ROOT, f), 'utf8').matchAll(re)) {
      const t = path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1]!)).replace(/\.js$/, '.ts');
      if (existsSync(path.join(REPO_ROOT, t))) stack.push(t);
    }
  }
  return seen;
}

const stageOf = (ins: Instruction): string => {
  let name = '';
  for (const i of all) {
    if (i.op === 'FROM') name = /\s+AS\s+(\S+)\s*$/i.exec(i.args)?.[1]?.toLowerCase() ?? 'runtime';
    if (i === ins) return name;
  }
  return name;
};
const copiedIn = (stage: string): string[] => all.filter((i) => i.op === 'COPY' && stageOf(i) === stage && !('from' in copyArgs(i.args).flags))
  .flatMap((i) => copyArgs(i.args).sources.map((s) => path.posix.normalize(s).replace(/\/+$/, '')));
const shipped = importClosure('cli/main.ts');
/** A runtime COPY destination as a path under the image's WORKDIR (/opt/nodemesh). */
const destUnderWorkdir = (dest: string): string => {
  const d = path.posix.normalize(dest).replace(/\/+$/, '');
  return d.startsWith('/') ? path.posix.relative('/opt/nodemesh', d) : d;
};

test('the ts stage copies every folder the CLI imports, and bundles the agent', () => {
  const folders = new Set([...shipped].map((f) => f.split('/')[0]!));
  assert.ok(folders.has('agent') && folders.has('dashboard'), `closure: ${[...folders].join(', ')}`);
  const copied = copiedIn('ts');
  for (const top of folders) {
    assert.ok(copied.some((c) => c === top || top.startsWith(`${c}/`) || (c.startsWith(`${top}/`) && [...shipped].filter((f) => f.startsWith(`${top}/`)).every((f) => f.startsWith(`${c}/`) || f === c))),
      `the CLI imports ${top}/ but the ts stage does not COPY it`);
  }
  const run = all.find((i) => i.op === 'RUN' && stageOf(i) === 'ts' && i.args.includes('tsc'));
  assert.ok(run && /bundle-agent\.sh/.test(run.args) && run.args.indexOf('bundle-agent') < run.args.indexOf('prune'), 'the ts stage runs scripts/bundle-agent.sh before pruning esbuild');
});

test('the runtime copies every file tree the shipped code reads with repoPath()', () => {
  const reads = new Set<string>();
  for (const f of shipped) {
    const text = readFileSync(path.join(REPO_ROOT, f), 'utf8');
    for (const m of text.matchAll(/repoPath\('([^']+)'\)/g)) reads.add(m[1]!);
    for (const m of text.matchAll(/loadService\('([^']+)'/g)) reads.add(`proto/${m[1]!}`);
  }
  assert.ok(reads.has('dashboard/assets') && reads.has('dist/agent.bundle.mjs') && reads.has('proto/nodemesh/config/v1/config.proto'), [...reads].join(', '));
  const runtime = [...copiedIn('runtime'), ...all.filter((i) => i.op === 'COPY' && stageOf(i) === 'runtime' && copyArgs(i.args).flags.from === 'ts').map((i) => destUnderWorkdir(copyArgs(i.args).dest))];
  for (const r of reads) assert.ok(runtime.some((c) => r === c || r.startsWith(`${c}/`)), `the shipped code reads ${r} but the runtime stage does not COPY it`);
});
