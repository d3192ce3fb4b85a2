import { describe, expect, it } from 'vitest';
import { failureReport, formatFailureReport, type ImageOutcome } from '../../src/model/failure_report.js';

const o = (id: string, JA: number, lesionFraction: number, resolution?: string): ImageOutcome => ({ id, JA, lesionFraction, resolution, malignant: 0, label: 0 });

describe('failureReport', () => {
  const items = [o('a', 0.1, 0.02, 'full'), o('b', 0.9, 0.3, 'full'), o('c', 0.4, 0.7, 'low'), o('d', 0.8, 0.1, 'low'), o('e', 0.95, 0.04, 'full')];
  const r = failureReport(items, 0.5, 3);

  it('counts the share below the threshold and below 0.3', () => {
    expect(r.n).toBe(5);
    expect(r.shareBelow).toBeCloseTo(2 / 5);
    expect(r.shareBelow03).toBeCloseTo(1 / 5);
  });

  it('lists the worst images first', () => {
    expect(r.worst.map((w) => w.id)).toEqual(['a', 'c', 'd']);
  });

  it('groups by lesion size', () => {
    const small = r.bySize.find((g) => g.group === 'lesion < 5 %');
    expect(small?.n).toBe(2);
    expect(small?.meanJA).toBeCloseTo(0.525);
    expect(small?.shareBelow).toBeCloseTo(0.5);
    const large = r.bySize.find((g) => g.group === 'lesion ≥ 60 %');
    expect(large?.n).toBe(1);
    expect(large?.shareBelow).toBe(1);
    expect(r.bySize.reduce((a, g) => a + g.n, 0)).toBe(5);
  });

  it('groups by resolution', () => {
    const low = r.byResolution.find((g) => g.group === 'resolution low');
    expect(low?.n).toBe(2);
    expect(low?.meanJA).toBeCloseTo(0.6);
    expect(r.byResolution.find((g) => g.group === 'resolution full')?.shareBelow).toBeCloseTo(1 / 3);
  });

  it('formats a readable table naming the worst images', () => {
    const text = formatFailureReport(r);
    expect(text).toContain('40.0 % of 5 below JA 0.5');
    expect(text).toContain('a 0.100');
  });
});
