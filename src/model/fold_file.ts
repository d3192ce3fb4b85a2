import { readFileSync } from 'node:fs';
import type { FoldFile } from './folds.js';

/** Reads a committed fold file, refusing one whose folds overlap (a leak between training and validation). */
export function readFoldFile(path: string): FoldFile {
  let raw: FoldFile;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as FoldFile;
  } catch (err) {
    throw new Error(`cannot read fold file ${path}: ${(err as Error).message}. Make one with \`dermstream folds\`.`);
  }
  if (!Array.isArray(raw.folds) || raw.folds.length < 2) throw new Error(`${path} has no "folds" array of id lists: make one with \`dermstream folds\``);
  const seen = new Map<string, number>();
  raw.folds.forEach((f, i) =>
    f.forEach((id) => {
      const prev = seen.get(id);
      if (prev !== undefined) throw new Error(`${path}: image ${id} is in fold ${prev + 1} and fold ${i + 1}; folds must be disjoint`);
      seen.set(id, i);
    }),
  );
  return raw;
}
