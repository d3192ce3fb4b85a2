/** zod's issues → problems an IT engineer can act on: key, value, where it was written, what is allowed. */
import type { z } from 'zod';
import { closest } from './suggest.js';
import { childKeys, describeKey, leafPaths } from './keys.js';
import { SECRET_KEYS } from './schema.js';
import { showValue, type ConfigProblem, type ConfigSource } from './errors.js';
import { MASK } from './secrets.js';

export function getPath(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'mapping' : typeof v);

export function issueToProblems(issue: z.core.$ZodIssue, raw: unknown, sourceOf: (key: string) => ConfigSource | undefined): ConfigProblem[] {
  const path = issue.path.map(String);
  const key = path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const valid = childKeys(path);
    return issue.keys.map((k) => {
      const full = [...path, k].join('.');
      const guess = closest(k, valid);
      // The right key at the wrong level (e.g. `brokerUrl:` at the top instead of under `mqtt:`).
      const elsewhere = guess ? undefined : leafPaths().find((p) => p[p.length - 1]!.toLowerCase() === k.toLowerCase() || closest(k, [p[p.length - 1]!]) === p[p.length - 1]);
      const hint = guess ? `did you mean "${[...path, guess].join('.')}"?` : elsewhere ? `did you mean "${elsewhere.join('.')}" (it belongs under ${elsewhere.slice(0, -1).join('.')})?` : '';
      return {
        path: full,
        source: sourceOf(full),
        message: `unknown key${hint ? `; ${hint}` : ''}`,
        allowed: `keys of ${key || 'the top level'}: ${valid.join(', ')}`,
      };
    });
  }
  const value = getPath(raw, issue.path);
  const shown = SECRET_KEYS.has(key) ? MASK : value === undefined ? undefined : showValue(value);
  const description = describeKey(path);
  let message: string;
  switch (issue.code) {
    case 'invalid_type':
      message = `expected ${issue.expected === 'object' ? 'a mapping (nested keys)' : issue.expected}, got ${kindOf(value)}`;
      if (issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) message += ' (put it in quotes in YAML)';
      break;
    case 'too_small':
      message = typeof value === 'string' ? 'must not be empty' : Array.isArray(value) ? `needs at least ${issue.minimum} item(s)` : `too small: must be ${issue.inclusive ? '≥' : '>'} ${issue.minimum}`;
      break;
    case 'too_big':
      message = typeof value === 'string' ? `too long: at most ${issue.maximum} characters` : `too large: must be ${issue.inclusive ? '≤' : '<'} ${issue.maximum}`;
      break;
    case 'invalid_value':
      message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'invalid_format':
      message = 'is not in the accepted form';
      break;
    case 'not_multiple_of':
      message = `must be a multiple of ${String(issue.divisor)}`;
      break;
    case 'invalid_union':
      message = 'is neither of the accepted forms';
      break;
    default:
      message = issue.message;
  }
  if (issue.code === 'invalid_type' && issue.expected === 'int') message = `must be a whole number, got ${showValue(value)}`;
  if (issue.code === 'invalid_type' && issue.expected === 'number' && typeof value === 'number') message = `must be a finite number`;
  return [{ path: key, value: shown, source: sourceOf(key), message, allowed: description }];
}
