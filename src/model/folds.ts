import type { LabelRow } from './dataset.js';
import { shuffledOrder } from './sampling.js';
import { rng } from './targets.js';

/** A committed k-fold partition of a dataset: image ids only. */
export interface FoldFile {
  data: string;
  k: number;
  seed: number;
  stratifiedBy: 'melanoma';
  /** Ids placed in fold 1 before the rest were shuffled in (e.g. the shipped model's held-out split). */
  pinnedToFirstFold?: { file: string; count: number };
  folds: string[][];
}

/**
 * Stratified k-fold: per class (malignant / benign), ids sorted then shuffled with the seed and dealt
 * into k contiguous near-equal chunks, so every fold has the data's melanoma share (± 1 image).
 * `pinned` ids are put at the front of their class's order, so they land in fold 1 (index 0) — as long
 * as they do not outnumber a fold's share of their class, which is checked.
 */
export function makeFolds(rows: LabelRow[], k: number, seed: number, pinned: ReadonlySet<string> = new Set()): string[][] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`k must be an integer ≥ 2, got ${k}`);
  const ids = new Set<string>();
  for (const r of rows) {
    if (ids.has(r.id)) throw new Error(`image ${r.id} appears twice in labels.csv: folds would not be disjoint`);
    ids.add(r.id);
  }
  const rand = rng(seed);
  const folds: string[][] = Array.from({ length: k }, () => []);
  for (const label of [0, 1]) {
    const group = rows.filter((r) => r.malignant === label).map((r) => r.id).sort();
    const pin = group.filter((id) => pinned.has(id));
    const rest = group.filter((id) => !pinned.has(id));
    const ordered = [...shuffledOrder(pin.length, rand).map((i) => pin[i]), ...shuffledOrder(rest.length, rand).map((i) => rest[i])];
    const firstSize = Math.round(ordered.length / k);
    if (pin.length > firstSize) throw new Error(`${pin.length} pinned ${label ? 'malignant' : 'benign'} images do not fit in one fold (${firstSize})`);
    for (let f = 0; f < k; f++) folds[f].push(...ordered.slice(Math.round((f * ordered.length) / k), Math.round(((f + 1) * ordered.length) / k)));
  }
  return folds.map((f) => f.sort());
}

/** Training and validation ids with fold `held` (0-based) held out. */
export function foldSplit(folds: string[][], held: number): { train: string[]; val: string[] } {
  if (!Number.isInteger(held) || held < 0 || held >= folds.length) throw new Error(`fold ${held + 1} does not exist: the file has folds 1–${folds.length}`);
  return { train: folds.filter((_, i) => i !== held).flat(), val: [...folds[held]] };
}
