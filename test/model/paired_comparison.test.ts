import { describe, expect, it } from 'vitest';
import { comparePaired, formatPairedComparison, type PairedImage } from '../../src/model/paired_comparison.js';
import { rng } from '../../src/model/targets.js';

function images(n: number, stratum: number, make: (i: number, r: () => number) => Omit<PairedImage, 'id' | 'stratum'>, seed = 1): PairedImage[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({ id: `s${stratum}-${i}`, stratum, ...make(i, r) }));
}

describe('comparePaired', () => {
  it('gives zero difference, a degenerate interval and all ties when both sides are the same model', () => {
    const ims = images(80, 0, (i, r) => {
      const ja = r();
      const m = r();
      return { label: i % 4 === 0 ? 1 : 0, ja: [ja, ja], malignant: [m, m] };
    });
    const c = comparePaired(ims, 200);
    expect(c.delta.JA.value).toBe(0);
    expect(c.delta.JA.se).toBe(0);
    expect(c.delta.AUC).toMatchObject({ value: 0, lo: 0, hi: 0 });
    expect(c.tied).toBe(80);
    expect(c.melanomas).toBe(20);
  });

  it('finds a model that is better on every image, with an interval that excludes zero', () => {
    const ims = images(200, 0, (i, r) => {
      const ja = 0.4 + 0.5 * r();
      const label = i % 5 === 0 ? 1 : 0;
      const noisy = r();
      return { label, ja: [ja, Math.min(1, ja + 0.05)], malignant: [noisy, label ? 0.5 + 0.5 * r() : 0.5 * r()] };
    });
    const c = comparePaired(ims, 500);
    expect(c.delta.JA.value).toBeGreaterThan(0.04);
    expect(c.delta.JA.lo).toBeGreaterThan(0);
    expect(c.b.AUC).toBe(1);
    expect(c.delta.AUC.lo).toBeGreaterThan(0.2);
    expect(c.better).toBeGreaterThan(190);
    expect(c.delta.shareBelow05.value).toBeLessThanOrEqual(0);
  });

  it('takes AUC within each stratum, so a fold model with shifted scores is not penalised for its scale', () => {
    // Each stratum ranks perfectly on side B, but stratum 1's scores are all below stratum 0's: pooled AUC
    // would be < 1, within-stratum AUC is exactly 1.
    const s0 = images(40, 0, (i) => ({ label: i < 10 ? 1 : 0, ja: [0.8, 0.8], malignant: [0.5, i < 10 ? 0.9 : 0.7] }));
    const s1 = images(40, 1, (i) => ({ label: i < 10 ? 1 : 0, ja: [0.8, 0.8], malignant: [0.5, i < 10 ? 0.3 : 0.1] }));
    const c = comparePaired([...s0, ...s1], 100);
    expect(c.strata).toBe(2);
    expect(c.b.AUC).toBe(1);
    expect(c.a.AUC).toBe(0.5);
    expect(c.delta.AUC.lo).toBe(0.5);
  });

  it('is reproducible for a seed and says so in its text', () => {
    const ims = images(60, 0, (i, r) => ({ label: i % 3 === 0 ? 1 : 0, ja: [r(), r()], malignant: [r(), r()] }));
    const x = comparePaired(ims, 300, 7);
    expect(comparePaired(ims, 300, 7)).toEqual(x);
    expect(comparePaired(ims, 300, 8).delta.AUC.lo).not.toBe(x.delta.AUC.lo);
    const text = formatPairedComparison(x, ['resnet', 'mnv2']);
    expect(text).toContain('paired on 60 images (20 melanomas)');
    expect(text).toMatch(/ΔAUC {2}[+-]\d\.\d{3} \[/);
  });

  it('refuses an empty pairing with the reason', () => {
    expect(() => comparePaired([])).toThrow(/no image is scored by both models/);
  });
});
