import { describe, expect, it } from 'vitest';
import { pairEvalReports } from '../../src/model/pair_eval_reports.js';

const report = (ids: string[], labels: number[], ja: number[], malignant = ids.map(() => 0.5)) => ({ ids, labels, JA: ja, malignant });

describe('pairEvalReports', () => {
  it('joins by id, strata by the pair of reports, and counts what only one side scored', () => {
    const a = [report(['x1', 'x2', 'x3'], [0, 1, 0], [0.1, 0.2, 0.3]), report(['y1', 'y2'], [1, 0], [0.4, 0.5])];
    const b = [report(['x2', 'x3', 'y1'], [1, 0, 1], [0.6, 0.7, 0.8])];
    const p = pairEvalReports(a, b);
    expect(p.images.map((im) => [im.id, im.stratum, im.ja])).toEqual([
      ['x2', 0, [0.2, 0.6]],
      ['x3', 0, [0.3, 0.7]],
      ['y1', 1, [0.4, 0.8]],
    ]);
    expect(p.onlyA).toBe(2);
    expect(p.onlyB).toBe(0);
  });

  it('refuses an image scored twice on one side, labels that disagree, and reports without JA', () => {
    expect(() => pairEvalReports([report(['x'], [0], [1]), report(['x'], [0], [1])], [])).toThrow(/x is in two reports/);
    expect(() => pairEvalReports([report(['x'], [0], [1])], [report(['x'], [1], [1])])).toThrow(/label 0 in A but 1 in B/);
    expect(() => pairEvalReports([{ ids: ['x'], labels: [0], malignant: [0.1] }], [])).toThrow(/no per-image JA/);
  });
});
