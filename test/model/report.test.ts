import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderReportPng, reportSvg, type HistoryPoint } from '../../src/model/report.js';

/** Issue 10 (terminal): training-report.png had an empty loss chart when history[0] was a validation point with `"loss": {}`. */
const history: HistoryPoint[] = [
  { epoch: 1, step: 10, loss: {}, val: { JA: 0.5, AUC: 0.6 } },
  { epoch: 1.5, step: 25, loss: { total: 2, maskBce: 0.7 } },
  { epoch: 2, step: 50, loss: { total: 1.5, maskBce: 0.5 }, val: { JA: 0.6, AUC: 0.7 } },
  { epoch: 2.5, step: 75, loss: { total: 1.1, maskBce: 0.4 } },
];

describe('training report', () => {
  it('draws every loss key seen anywhere, skipping points without it (no NaN in the paths)', () => {
    const svg = reportSvg(history);
    const paths = [...svg.matchAll(/<path d="([^"]*)" stroke="([^"]+)" fill="none" stroke-width="1.5"/g)];
    expect(paths.map((p) => p[1]!.split(' ').length)).toEqual([3, 3]);
    expect(svg).not.toContain('NaN');
    expect(svg).toContain('>total</text>');
    expect(svg).toContain('>maskBce</text>');
  });

  it('the PNG has loss-curve pixels in the left chart', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'report-'));
    try {
      const file = path.join(dir, 'report.png');
      await renderReportPng(history, file);
      const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      let blue = 0; // #1f77b4, the first curve
      for (let y = 50; y < 350; y++) {
        for (let x = 61; x < 460; x++) {
          const i = (y * info.width + x) * 3;
          if (Math.abs(data[i]! - 0x1f) < 40 && Math.abs(data[i + 1]! - 0x77) < 40 && Math.abs(data[i + 2]! - 0xb4) < 40) blue++;
        }
      }
      expect(blue).toBeGreaterThan(50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
