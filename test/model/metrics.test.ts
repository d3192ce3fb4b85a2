import { describe, expect, it } from 'vitest';
import { averagePrecision, classificationScores, confusion, rocAuc, segmentationScores } from '../../src/model/metrics.js';

describe('segmentation metrics', () => {
  it('match a hand-worked confusion matrix', () => {
    // truth: 4 lesion pixels; prediction: 3 of them + 1 false positive; 8 pixels in all.
    const truth = Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0]);
    const pred = Uint8Array.from([1, 1, 1, 0, 1, 0, 0, 0]);
    const c = confusion(pred, truth);
    expect(c).toEqual({ tp: 3, fp: 1, fn: 1, tn: 3 });
    const s = segmentationScores(c);
    expect(s.JA).toBeCloseTo(3 / 5);
    expect(s.DI).toBeCloseTo(6 / 8);
    expect(s.AC).toBeCloseTo(6 / 8);
    expect(s.SE).toBeCloseTo(3 / 4);
    expect(s.SP).toBeCloseTo(3 / 4);
  });
  it('score an empty prediction of a lesion as JA 0', () => {
    expect(segmentationScores(confusion(new Uint8Array(4), Uint8Array.from([1, 0, 0, 0]))).JA).toBe(0);
  });
});

describe('classification metrics', () => {
  it('AUC of a known ROC', () => {
    // Positives 0.9, 0.6; negatives 0.8, 0.3, 0.2: pairs won 2 + 2 = 5 of 6.
    expect(rocAuc([0.9, 0.8, 0.6, 0.3, 0.2], [1, 0, 1, 0, 0])).toBeCloseTo(5 / 6);
    expect(rocAuc([0.5, 0.5], [1, 0])).toBeCloseTo(0.5);
    expect(rocAuc([0.1, 0.9], [1, 0])).toBe(0);
  });
  it('average precision as scikit-learn', () => {
    // Ranked: 1 (P 1, R .5), 0, 1 (P 2/3, R 1) → AP = .5·1 + .5·2/3.
    expect(averagePrecision([0.9, 0.8, 0.6, 0.3], [1, 0, 1, 0])).toBeCloseTo(0.5 + 1 / 3);
  });
  it('accuracy, sensitivity and specificity at the threshold', () => {
    const c = classificationScores([0.9, 0.4, 0.6, 0.1], [1, 1, 0, 0], 0.5);
    expect(c.AC).toBeCloseTo(0.5);
    expect(c.SE).toBeCloseTo(0.5);
    expect(c.SP).toBeCloseTo(0.5);
  });
});
