import { describe, expect, it } from 'vitest';
import { calibrate, fitPlatt } from '../../src/model/calibration.js';
import { rng } from '../../src/model/targets.js';

describe('Platt calibration', () => {
  it('is the identity without a calibration and maps logit 0 to σ(b)', () => {
    expect(calibrate(0.37)).toBe(0.37);
    expect(calibrate(0.5, { a: 3, b: -1 })).toBeCloseTo(1 / (1 + Math.E), 10);
  });

  it('recovers the parameters that generated the labels', () => {
    // Labels drawn with P(y=1) = σ(3·logit(p) − 0.5), as from a compressed, shifted score.
    const rand = rng(7);
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const p = 0.3 + 0.4 * rand();
      scores.push(p);
      labels.push(rand() < calibrate(p, { a: 3, b: -0.5 }) ? 1 : 0);
    }
    const fit = fitPlatt(scores, labels);
    expect(fit.a).toBeCloseTo(3, 0);
    expect(fit.b).toBeCloseTo(-0.5, 1);
    // Monotone: order (and so AUC) is kept.
    expect(calibrate(0.6, fit)).toBeGreaterThan(calibrate(0.4, fit));
  });
});
