import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectRows } from '../../src/model/evaluate.js';
import { measureOperatingPoint, parseOperatingPoint, readOperatingPoint, sensitivitySpecificity, thresholdForSensitivity } from '../../src/model/operating_point.js';
import { HAVE_ISIC, ISIC_DIR, SHIPPED_MODEL_DIR, shippedOperatingPoint } from './helpers.js';

// 4 melanomas (scores 0.9, 0.4, 0.2, 0.1) among 10 images.
const scores = [0.9, 0.4, 0.2, 0.1, 0.8, 0.3, 0.25, 0.05, 0.02, 0.01];
const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];

describe('operating point', () => {
  it('SE and SP of score ≥ threshold', () => {
    expect(sensitivitySpecificity(scores, labels, 0.2)).toEqual({ sensitivity: 3 / 4, specificity: 3 / 6 });
    expect(sensitivitySpecificity(scores, labels, 0.5)).toEqual({ sensitivity: 1 / 4, specificity: 5 / 6 });
  });

  it('takes the highest 0.01-grid threshold that reaches the target sensitivity', () => {
    expect(thresholdForSensitivity(scores, labels, 0.75)).toBe(0.2);
    expect(thresholdForSensitivity(scores, labels, 1)).toBe(0.1);
    expect(thresholdForSensitivity(scores, labels, 0.25)).toBe(0.9);
    expect(() => thresholdForSensitivity(scores, labels.map(() => 0), 0.75)).toThrow(/no malignant example/);
  });

  it('measures and validates', () => {
    expect(measureOperatingPoint(scores, labels, 0.2, 0.03, 'ten images')).toEqual({ threshold: 0.2, margin: 0.03, sensitivity: 0.75, specificity: 3 / 6, fittedOn: 'ten images' });
    expect(() => parseOperatingPoint({ threshold: 1.2, margin: 0.6, sensitivity: 0.5, specificity: 0.5, fittedOn: 'x' }, 'm.json')).toThrow(/m\.json: operatingPoint has a bad threshold 1\.2 .*, margin 0\.6[\s\S]*fix: re-ship the model/);
    expect(() => parseOperatingPoint('0.15', 'm.json')).toThrow(/not an object/);
  });

  it('reads the shipped model’s: its fitted threshold, the ± 0.03 margin, SE ≥ the 0.75 target on its calibration ids', () => {
    const op = readOperatingPoint(SHIPPED_MODEL_DIR)!;
    const raw = shippedOperatingPoint();
    expect(op).toEqual(raw);
    expect(op.threshold).toBeGreaterThan(0);
    expect(op.threshold).toBeLessThan(0.5);
    expect(op.margin).toBe(0.03);
    expect(op.sensitivity).toBeGreaterThanOrEqual(0.75);
    // SE and SP are counts over the ids beside the model: whole numbers of its melanomas and benign lesions.
    if (HAVE_ISIC) {
      const rows = selectRows(ISIC_DIR, join(SHIPPED_MODEL_DIR, 'validation-split.json'));
      const mel = rows.filter((r) => r.malignant).length;
      const ben = rows.length - mel;
      expect(Math.abs(op.sensitivity * mel - Math.round(op.sensitivity * mel))).toBeLessThan(1e-6);
      expect(Math.abs(op.specificity * ben - Math.round(op.specificity * ben))).toBeLessThan(1e-6);
    }
  });

  it('null for a folder without a manifest or a manifest without one; an error for a malformed one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'op-'));
    expect(readOperatingPoint(dir)).toBeNull();
    writeFileSync(join(dir, 'manifest.json'), '{"name":"old"}');
    expect(readOperatingPoint(dir)).toBeNull();
    writeFileSync(join(dir, 'manifest.json'), '{"operatingPoint":{"threshold":"0.15"}}');
    expect(() => readOperatingPoint(dir)).toThrow(/bad threshold "0\.15"/);
  });
});
