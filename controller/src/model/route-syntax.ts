// Lexical checks of Gateway API route fields (v1 CRD patterns): header names, hostnames, paths,
// GEP-2257 durations, and the regular-expression subset that both JavaScript and Rust's `regex`
// crate accept with the same meaning (the agent compiles a route's regex in both). Pure.

import { Invalid } from './fields.js';

/** RFC 7230 token (HTTPHeaderName / GRPCHeaderName of the CRDs), 1..256 characters. */
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** Hostname of the CRDs: an optional leading "*." then DNS labels, lowercase. */
export const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** PreciseHostname: no wildcard. */
export const PRECISE_HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Group of an object reference ('' is the core group). */
export const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kind of an object reference. */
export const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
/** SectionName (rule names, parentRef sectionName). */
export const SECTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/;
const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

export function headerName(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256 || !HEADER_NAME.test(v)) {
    throw new Invalid(path, `${JSON.stringify(v)} is not a valid header name (1..256 RFC 7230 token characters, no ':' pseudo-headers)`);
  }
  return v;
}

/** An Exact or PathPrefix path value (HTTPPathMatch rules of the CRD); `what` names the field kind. */
export function absolutePath(v: string, path: string): string {
  if (!v.startsWith('/')) throw new Invalid(path, `"${v}" must be an absolute path starting with '/'`);
  for (const bad of ['//', '/./', '/../', '%2f', '%2F', '#']) {
    if (v.includes(bad)) throw new Invalid(path, `"${v}" must not contain '${bad}'`);
  }
  if (v.endsWith('/..') || v.endsWith('/.')) throw new Invalid(path, `"${v}" must not end with '/.' or '/..'`);
  if (!PATH_CHARS.test(v)) throw new Invalid(path, `"${v}" may only contain RFC 3986 path characters and %XX escapes`);
  if (v.length > 1024) throw new Invalid(path, 'must have at most 1024 characters');
  return v;
}

/** A GEP-2257 duration ("1h30m", "250ms", "0s") in milliseconds. */
export function durationMs(v: unknown, path: string): number {
  if (typeof v !== 'string' || !DURATION.test(v)) {
    throw new Invalid(path, `${JSON.stringify(v)} is not a Gateway API duration (GEP-2257: 1 to 4 of <0-99999><h|m|s|ms>, e.g. "10s", "1m30s", "250ms")`);
  }
  let ms = 0;
  for (const m of v.matchAll(/([0-9]+)(ms|h|m|s)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

const QUANT = /^\{[0-9]+(,[0-9]*)?\}/;

/**
 * A regular expression valid in JavaScript and in Rust's regex crate with the same meaning.
 * Rejected (with the reason): lookaround, backreferences, atomic groups, possessive quantifiers,
 * inline flags, \p / \x{} / \u{} / \c / \A / \z and other escapes the two read differently,
 * nested classes and class set operations, an empty class, a '{' that is not a quantifier, \< \>.
 * What remains matches alike on ASCII input; \d \w \b are ASCII in JavaScript and Unicode in Rust.
 */
export function checkRegex(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new Invalid(path, 'must be a non-empty regular expression');
  if (v.length > 1024) throw new Invalid(path, 'must have at most 1024 characters');
  try {
    new RegExp(v);
  } catch (e) {
    throw new Invalid(path, `invalid regular expression: ${(e as Error).message}`);
  }
  const fail = (i: number, why: string): never => {
    throw new Invalid(path, `${JSON.stringify(v)} at offset ${i}: ${why}; use the RE2 subset both JavaScript and Rust's regex crate accept`);
  };
  let inClass = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') {
      const n = v[i + 1] ?? '';
      if (/[1-9]/.test(n) || n === 'k') fail(i, 'backreferences are not supported');
      if (n === '0') fail(i, '\\0 differs between the two engines');
      if (n === 'b' && inClass) fail(i, '\\b inside a class differs between the two engines');
      if (n === '<' || n === '>') fail(i, `\\${n} is a word boundary in Rust and a literal in JavaScript (write "${n}" unescaped)`);
      if ((n === 'b' || n === 'B') && v[i + 2] === '{') fail(i, `\\${n}{...} is a special word boundary in Rust only`);
      if (n === 'x') {
        if (!/^[0-9a-fA-F]{2}$/.test(v.slice(i + 2, i + 4))) fail(i, 'write \\x with exactly two hex digits');
        i += 3;
      } else if (n === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(v.slice(i + 2, i + 6))) fail(i, 'write \\u with exactly four hex digits');
        i += 5;
      } else if (/[A-Za-z0-9]/.test(n) && !/[dDwWsSbBtnrfv]/.test(n)) {
        fail(i, `the escape \\${n} is not supported by both engines`);
      } else {
        i++;
      }
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      if (c === '[') fail(i, 'nested classes and POSIX classes are not supported ("\\[" for a literal)');
      if ((c === '&' || c === '-' || c === '~') && v[i + 1] === c) fail(i, `class set operations ("${c}${c}") are not supported`);
      continue;
    }
    switch (c) {
      case '[':
        if (v[i + 1] === ']' || (v[i + 1] === '^' && v[i + 2] === ']')) fail(i, 'an empty class ("[]" or "[^]") is read differently by the two engines');
        inClass = true;
        if (v[i + 1] === '^') i++;
        break;
      case '(':
        if (v[i + 1] === '?') {
          if (v[i + 2] === ':') { i += 2; break; }
          const named = /^\(\?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(v.slice(i));
          if (named) { i += named[0].length - 1; break; }
          const what = v[i + 2] === '=' || v[i + 2] === '!' || (v[i + 2] === '<' && (v[i + 3] === '=' || v[i + 3] === '!')) ? 'lookaround is' : v[i + 2] === '>' ? 'atomic groups are' : 'inline flags and this group syntax are';
          fail(i, `${what} not supported`);
        }
        break;
      case '*': case '+': case '?': case '{': {
        if (c === '{') {
          const q = QUANT.exec(v.slice(i));
          if (!q) fail(i, 'a literal "{" must be escaped ("\\{")');
          i += q![0].length - 1;
        }
        const next = v[i + 1];
        if (next === '+') fail(i + 1, 'possessive quantifiers are not supported');
        if (next === '?') i++;
        break;
      }
    }
  }
  return v;
}
