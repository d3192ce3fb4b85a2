/**
 * The schema as a tree of keys, for the things zod does not do for us: the list of valid keys (for "did you
 * mean"), the type of a leaf (to coerce an environment variable or a flag, which are strings), and the
 * description of a leaf (the "allowed" part of an error message).
 */
import type { z } from 'zod';
import { configSchema } from './schema.js';

export type LeafKind = 'number' | 'boolean' | 'string' | 'enum' | 'boolean|literal' | 'number|false' | 'array';

interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Strips optional/default/prefault/nullable wrappers; collects the first description on the way. */
function unwrap(s: z.ZodType): { schema: z.ZodType; description?: string } {
  let description = s.description;
  let cur = s;
  for (;;) {
    const def = defOf(cur);
    if (!['optional', 'default', 'prefault', 'nullable'].includes(def.type) || !def.innerType) break;
    cur = def.innerType;
    description ??= cur.description;
  }
  return { schema: cur, description };
}

/** The node at a dotted path, or undefined if no such key. */
export function schemaAt(path: readonly string[], root: z.ZodType = configSchema): z.ZodType | undefined {
  let cur: z.ZodType = root;
  for (const seg of path) {
    const { schema } = unwrap(cur);
    const shape = defOf(schema).shape;
    if (!shape || !Object.prototype.hasOwnProperty.call(shape, seg)) return undefined;
    cur = shape[seg]!;
  }
  return cur;
}

/** Keys of the object at `path` (empty if it is not an object). */
export function childKeys(path: readonly string[]): string[] {
  const s = schemaAt(path);
  if (!s) return [];
  const shape = defOf(unwrap(s).schema).shape;
  return shape ? Object.keys(shape) : [];
}

export function isObjectPath(path: readonly string[]): boolean {
  const s = schemaAt(path);
  return !!s && defOf(unwrap(s).schema).type === 'object';
}

export function describeKey(path: readonly string[]): string | undefined {
  const s = schemaAt(path);
  return s ? unwrap(s).description : undefined;
}

export function leafKind(path: readonly string[]): LeafKind | undefined {
  const s = schemaAt(path);
  if (!s) return undefined;
  const def = defOf(unwrap(s).schema);
  switch (def.type) {
    case 'number':
    case 'boolean':
    case 'string':
    case 'enum':
    case 'array':
      return def.type;
    case 'union': {
      const types = (def.options ?? []).map((o) => defOf(o).type);
      return types.includes('number') ? 'number|false' : 'boolean|literal';
    }
    default:
      return undefined;
  }
}

/** Every leaf key as a dotted path, in schema order. */
export function leafPaths(root: z.ZodType = configSchema, prefix: string[] = []): string[][] {
  const shape = defOf(unwrap(root).schema).shape;
  if (!shape) return [prefix];
  return Object.entries(shape).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}
