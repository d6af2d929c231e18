// Command-line parsing shared by every command: node:util parseArgs in strict mode, with every
// mistake (unknown flag, missing value, bad number, stray argument) turned into MESH_ERR_USAGE
// carrying the command's usage line.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MeshError } from '../common/errors.js';

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;
export type FlagValues = Record<string, string | boolean | undefined>;

export function usageError(message: string, usage: string): MeshError {
  return new MeshError('MESH_ERR_USAGE', `${message}\nusage: ${usage}`);
}

/** `--ui-port -1` → `--ui-port=-1` for a string flag: parseArgs alone refuses a value that starts
 *  with "-" as ambiguous, and the usage lines write such values (`--ui-port PORT|-1`) spaced. */
function joinNegativeValues(argv: readonly string[], options: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { out.push(...argv.slice(i)); break; }
    const next = argv[i + 1];
    const spec = a.startsWith('--') && !a.includes('=') ? options[a.slice(2)] : undefined;
    if (spec?.type === 'string' && next !== undefined && /^-\d+(\.\d+)?$/.test(next)) { out.push(`${a}=${next}`); i++; } else out.push(a);
  }
  return out;
}

/** Parses flags; positionals must number between min and max. */
export function parseFlags(argv: readonly string[], options: FlagSpec, usage: string, positionals: { min?: number; max?: number } = {}): { values: FlagValues; positionals: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0] ?? 'invalid arguments';
    throw usageError(msg.replace(/\. To specify a positional argument.*$/, '').replace(/^Unknown option/, 'unknown option'), usage);
  }
  const pos = parsed.positionals;
  const min = positionals.min ?? 0;
  const max = positionals.max ?? 0;
  if (pos.length < min) throw usageError(`missing argument${min - pos.length > 1 ? 's' : ''}`, usage);
  if (pos.length > max) throw usageError(`unexpected argument "${pos[max]}"`, usage);
  return { values: parsed.values as FlagValues, positionals: pos };
}

/** A required string flag. */
export function requireString(values: FlagValues, name: string, usage: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v.length === 0) throw usageError(`--${name} is required`, usage);
  return v;
}

/** An optional integer flag within [min, max]. */
export function intFlag(values: FlagValues, name: string, usage: string, range: { min: number; max: number }): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < range.min || n > range.max) throw usageError(`--${name} must be an integer in ${range.min}..${range.max}, got "${String(v)}"`, usage);
  return n;
}

/** Splits argv at the first "--": flags before it, the command after it. */
export function splitCommand(argv: readonly string[], usage: string): { before: string[]; command: string[] } {
  const i = argv.indexOf('--');
  if (i < 0) throw usageError('put the command to run after "--"', usage);
  const command = argv.slice(i + 1);
  if (command.length === 0) throw usageError('no command after "--"', usage);
  return { before: argv.slice(0, i), command };
}
