import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LabelRow } from '../../src/model/dataset.js';
import { readFoldFile } from '../../src/model/fold_file.js';
import { foldSplit, makeFolds } from '../../src/model/folds.js';
import { balancedOrder } from '../../src/model/sampling.js';
import { rng } from '../../src/model/targets.js';

// 2000 rows with 374 malignant, the class balance of ISIC 2017 training.
const rows: LabelRow[] = Array.from({ length: 2000 }, (_, i) => ({ id: `ISIC_${String(i).padStart(7, '0')}`, malignant: (i * 7919) % 2000 < 374 ? 1 : 0 }));
const malignant = new Set(rows.filter((r) => r.malignant).map((r) => r.id));

describe('makeFolds', () => {
  it('partitions every id into exactly one of k folds', () => {
    const folds = makeFolds(rows, 5, 2017);
    const all = folds.flat();
    expect(all.length).toBe(rows.length);
    expect(new Set(all).size).toBe(rows.length);
    for (const f of folds) expect(f.length).toBe(400);
  });

  it('stratifies: each fold holds the data share of melanomas within one image', () => {
    for (const f of makeFolds(rows, 5, 2017)) {
      const m = f.filter((id) => malignant.has(id)).length;
      expect(Math.abs(m - 374 / 5)).toBeLessThanOrEqual(1);
    }
  });

  it('is deterministic for a seed and changes with it', () => {
    expect(makeFolds(rows, 5, 2017)).toEqual(makeFolds([...rows].reverse(), 5, 2017));
    expect(makeFolds(rows, 5, 2018)).not.toEqual(makeFolds(rows, 5, 2017));
  });

  it('puts pinned ids in fold 1 and still stratifies', () => {
    const pinned = new Set(rows.filter((_, i) => i % 10 === 0).map((r) => r.id));
    const folds = makeFolds(rows, 5, 2017, pinned);
    for (const id of pinned) expect(folds[0]).toContain(id);
    for (const f of folds) expect(Math.abs(f.filter((id) => malignant.has(id)).length - 74.8)).toBeLessThanOrEqual(1);
  });

  it('refuses pinned ids that do not fit in one fold', () => {
    const pinned = new Set(rows.filter((r) => r.malignant).slice(0, 100).map((r) => r.id));
    expect(() => makeFolds(rows, 5, 2017, pinned)).toThrow(/do not fit in one fold/);
  });

  it('foldSplit trains on the other folds, disjoint from the held-out one', () => {
    const folds = makeFolds(rows, 5, 1);
    const { train, val } = foldSplit(folds, 2);
    expect(val).toEqual(folds[2]);
    expect(train.length).toBe(1600);
    const v = new Set(val);
    expect(train.some((id) => v.has(id))).toBe(false);
    expect(() => foldSplit(folds, 5)).toThrow(/fold 6 does not exist/);
  });

  it('readFoldFile refuses overlapping folds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'folds-'));
    const path = join(dir, 'f.json');
    writeFileSync(path, JSON.stringify({ folds: [['a', 'b'], ['b', 'c']] }));
    expect(() => readFoldFile(path)).toThrow(/image b is in fold 1 and fold 2/);
  });
});

describe('balancedOrder', () => {
  it('draws malignant images at the asked share and covers every image of the rarer class', () => {
    const labels = rows.map((r) => r.malignant);
    const order = balancedOrder(labels, 0.5, rng(3));
    expect(order.length).toBe(labels.length);
    const share = order.filter((i) => labels[i]).length / order.length;
    expect(share).toBeGreaterThan(0.45);
    expect(share).toBeLessThan(0.55);
    const seen = new Set(order.filter((i) => labels[i]));
    expect(seen.size).toBe(374);
  });
});
