import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../src/model/backend.js';
import { roiAlign } from '../../../src/model/roi_align.js';
import { roiAlignNhwc } from '../../../src/model/onnx/roi_align_nhwc.js';

describe('RoI align on plain arrays (the ONNX engine’s)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('equals the tfjs matMul RoI align on two levels, boxes at edges and outside, in the caller’s order', () => {
    const l0 = tf.randomUniform([1, 12, 10, 5], -1, 1, 'float32', 5) as tf.Tensor4D;
    const l1 = tf.randomUniform([1, 6, 5, 5], -1, 1, 'float32', 6) as tf.Tensor4D;
    const boxes = [
      [4, 6, 30, 40],
      [0, 0, 16, 12],
      [10.5, 3.2, 22.7, 19.9],
      [-4, -4, 8, 8],
      [30, 40, 30.2, 40.1],
    ];
    const levelOf = (b: ArrayLike<number>) => (b[2] - b[0] > 20 ? 1 : 0);
    for (const pooled of [7, 14]) {
      const want = roiAlign([l0, l1], [4, 8], boxes.map((box) => ({ batch: 0, box })), (r) => levelOf(r.box), pooled, 2).dataSync();
      const levels = [l0, l1].map((l, i) => ({ data: l.dataSync() as Float32Array, height: l.shape[1], width: l.shape[2], channels: 5, stride: [4, 8][i] }));
      const got = roiAlignNhwc(levels, boxes, levelOf, pooled, 2);
      expect(got.length).toBe(want.length);
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
      expect(maxDiff).toBeLessThan(1e-5);
    }
  });
});
