import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { bilinearWeights, roiAlign, roiLevel } from '../../src/model/roi_align.js';

/** Direct RoI align: bilinear samples at each bin's sample points, averaged (Mask R-CNN, aligned). */
function direct(f: number[][][], box: number[], stride: number, pooled: number, samples: number): number[][][] {
  const h = f.length;
  const w = f[0].length;
  const c = f[0][0].length;
  const bilinear = (y: number, x: number, ch: number) => {
    if (y < -1 || y > h || x < -1 || x > w) return 0;
    y = Math.min(Math.max(y, 0), h - 1);
    x = Math.min(Math.max(x, 0), w - 1);
    const y0 = Math.floor(y);
    const x0 = Math.floor(x);
    const y1 = Math.min(y0 + 1, h - 1);
    const x1 = Math.min(x0 + 1, w - 1);
    const ly = y - y0;
    const lx = x - x0;
    return f[y0][x0][ch] * (1 - ly) * (1 - lx) + f[y0][x1][ch] * (1 - ly) * lx + f[y1][x0][ch] * ly * (1 - lx) + f[y1][x1][ch] * ly * lx;
  };
  const x1 = box[0] / stride - 0.5;
  const y1 = box[1] / stride - 0.5;
  const bw = (box[2] - box[0]) / stride / pooled;
  const bh = (box[3] - box[1]) / stride / pooled;
  const out: number[][][] = [];
  for (let p = 0; p < pooled; p++) {
    out.push([]);
    for (let q = 0; q < pooled; q++) {
      out[p].push([]);
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let i = 0; i < samples; i++) {
          for (let j = 0; j < samples; j++) acc += bilinear(y1 + (p + (i + 0.5) / samples) * bh, x1 + (q + (j + 0.5) / samples) * bw, ch);
        }
        out[p][q].push(acc / (samples * samples));
      }
    }
  }
  return out;
}

describe('RoI align', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('bilinear weight rows sum to 1 inside the map', () => {
    const wts = bilinearWeights(1.3, 2.2, 4, 2, 16);
    for (let p = 0; p < 4; p++) expect(wts.slice(p * 16, p * 16 + 16).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('matches a direct bilinear computation on two levels and several RoIs, in the caller’s order', () => {
    const l0 = tf.randomUniform([2, 12, 10, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const l1 = tf.randomUniform([2, 6, 5, 3], -1, 1, 'float32', 6) as tf.Tensor4D;
    const rois = [
      { batch: 1, box: [4, 6, 30, 40], level: 1 },
      { batch: 0, box: [0, 0, 16, 12], level: 0 },
      { batch: 1, box: [10.5, 3.2, 22.7, 19.9], level: 0 },
      { batch: 0, box: [-4, -4, 8, 8], level: 1 },
    ];
    const got = roiAlign([l0, l1], [4, 8], rois, (r) => (r as (typeof rois)[number]).level, 7, 2).arraySync();
    const maps = [l0.arraySync(), l1.arraySync()];
    rois.forEach((r, i) => {
      const want = direct(maps[r.level][r.batch], r.box, [4, 8][r.level], 7, 2);
      const flatGot = got[i].flat(2);
      const flatWant = want.flat(2);
      flatWant.forEach((v, k) => expect(flatGot[k]).toBeCloseTo(v, 4));
    });
  });

  it('has a gradient that reaches the features (tfjs has none for CropAndResize)', () => {
    const f = tf.randomUniform([1, 8, 8, 2], 0, 1, 'float32', 9) as tf.Tensor4D;
    const g = tf.grad((x: tf.Tensor) => tf.sum(roiAlign([x as tf.Tensor4D], [4], [{ batch: 0, box: [0, 0, 32, 32] }], () => 0, 4, 2)))(f);
    // Every cell of an RoI covering the whole map gets a positive share of the sum.
    expect(tf.min(g).arraySync()).toBeGreaterThan(0);
    // The pooled sum of 4×4 bins × 2 channels with weights summing to 1 per bin: total gradient 16 per channel.
    expect(tf.sum(g).arraySync()).toBeCloseTo(32, 3);
  });

  it('assigns larger boxes to coarser levels', () => {
    expect(roiLevel([0, 0, 20, 20], 160)).toBe(0);
    expect(roiLevel([0, 0, 80, 80], 160)).toBe(1);
    expect(roiLevel([0, 0, 150, 150], 160)).toBe(2);
    expect(roiLevel([0, 0, 1000, 1000], 160)).toBe(3);
  });
});
