/**
 * Environment variables and flags are strings; the schema wants numbers and booleans. A string is turned
 * into the leaf's type only when it is unambiguous ("30" → 30, "yes" → true); anything else is passed on
 * unchanged so that validation reports it with the value the user wrote.
 */
import type { LeafKind } from './keys.js';

const NUMBER_RE = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?$/i;
const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

export function coerce(kind: LeafKind | undefined, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const s = raw.trim();
  switch (kind) {
    case 'number':
      return NUMBER_RE.test(s) ? Number(s) : raw;
    case 'boolean':
      return bool(s) ?? raw;
    case 'boolean|literal':
      return s === 'auto' ? 'auto' : (bool(s) ?? raw);
    case 'number|false':
      return FALSE.has(s.toLowerCase()) && s !== '0' ? false : NUMBER_RE.test(s) ? Number(s) : raw;
    case 'array':
      return s === '' ? [] : s.split(',').map((x) => x.trim());
    default:
      return raw;
  }
}

function bool(s: string): boolean | undefined {
  const l = s.toLowerCase();
  return TRUE.has(l) ? true : FALSE.has(l) ? false : undefined;
}
