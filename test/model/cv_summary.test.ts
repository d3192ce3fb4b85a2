import { describe, expect, it } from 'vitest';
import { formatCvSummary, spread, summarizeFolds } from '../../src/model/cv_summary.js';

describe('summarizeFolds', () => {
  it('gives mean, sample sd, min and max across folds', () => {
    const s = spread([0.7, 0.8, 0.9]);
    expect(s.mean).toBeCloseTo(0.8);
    expect(s.sd).toBeCloseTo(0.1);
    expect(s.min).toBe(0.7);
    expect(s.max).toBe(0.9);
  });

  it('summarises every metric and names the folds done', () => {
    const f = (fold: number, v: number) => ({ fold, n: 400, JA: v, DI: v + 0.05, AUC: v - 0.1, AP: v / 2, shareBelow05: 1 - v });
    const s = summarizeFolds([f(1, 0.8), f(3, 0.6)]);
    expect(s.folds).toEqual([1, 3]);
    expect(s.metrics.JA.mean).toBeCloseTo(0.7);
    expect(s.metrics.AUC.mean).toBeCloseTo(0.6);
    expect(s.metrics.shareBelow05.max).toBeCloseTo(0.4);
    expect(formatCvSummary(s, 5)).toContain('2 of 5 folds');
  });

  it('has no spread from one fold, and refuses none', () => {
    expect(Number.isNaN(spread([0.5]).sd)).toBe(true);
    expect(() => summarizeFolds([])).toThrow(/no fold/);
  });
});
