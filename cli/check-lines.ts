// The line format of `nodemesh check --pre` and `--dataplane`, as `linkerd check` prints it: ✓ or ✗,
// the check's name and what was seen, and under a ✗ the hint that says what to do.

export interface CheckLine {
  readonly ok: boolean;
  readonly name: string;
  readonly detail: string;
  /** what to do; only for ✗ lines */
  readonly hint?: string;
}

export function formatLines(title: string, lines: readonly CheckLine[]): string {
  const out = [title, '-'.repeat(title.length)];
  for (const l of lines) {
    out.push(`${l.ok ? '✓' : '✗'} ${l.name}: ${l.detail}`);
    if (!l.ok && l.hint) out.push(`    hint: ${l.hint}`);
  }
  const bad = lines.filter((l) => !l.ok).length;
  out.push('', bad ? `Status check results are ✗ (${bad} failed)` : 'Status check results are ✓');
  return out.join('\n');
}
