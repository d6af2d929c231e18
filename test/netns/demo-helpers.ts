// Small helpers of the demo test: the network namespaces present now (ip netns list).
import { spawnSync } from 'node:child_process';

export function listNetnsNames(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
}
