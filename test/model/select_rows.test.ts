import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectRows } from '../../src/model/evaluate.js';

describe('selectRows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'select-'));
  writeFileSync(join(dir, 'labels.csv'), 'image_id,melanoma,resolution\na,0,full\nb,1,low\nc,0,full\nd,1,full\n');
  const folds = join(dir, 'folds.json');
  writeFileSync(folds, JSON.stringify({ k: 2, folds: [['a', 'b'], ['c', 'd']] }));

  it('picks one fold of a fold file, keeping labels.csv resolution', () => {
    const rows = selectRows(dir, folds, 2);
    expect(rows.map((r) => r.id)).toEqual(['c', 'd']);
    expect(rows[1]).toEqual({ id: 'd', malignant: 1, resolution: 'full' });
  });

  it('asks for --fold when given a fold file without one', () => {
    expect(() => selectRows(dir, folds)).toThrow(/--fold <n> \(1–2\)/);
  });

  it('still reads a plain id array and a split.json', () => {
    const arr = join(dir, 'ids.json');
    writeFileSync(arr, JSON.stringify(['b']));
    expect(selectRows(dir, arr).map((r) => r.id)).toEqual(['b']);
    const split = join(dir, 'split.json');
    writeFileSync(split, JSON.stringify({ train: ['a'], val: ['a', 'c'] }));
    expect(selectRows(dir, split).map((r) => r.id)).toEqual(['a', 'c']);
  });
});
