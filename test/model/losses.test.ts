import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { bceWithLogits, jaccardDistance, sigmoidFocalLoss, smoothL1, softmaxFocalLoss } from '../../src/model/losses.js';

const logit = (p: number) => Math.log(p / (1 - p));

describe('losses against hand-computed values', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('focal loss at p = 0.9 and p = 0.1 (α 0.25, β 2)', () => {
    const l = sigmoidFocalLoss(tf.tensor1d([logit(0.9), logit(0.1), logit(0.1), logit(0.9)]), tf.tensor1d([1, 0, 1, 0])).arraySync() as number[];
    expect(l[0]).toBeCloseTo(0.25 * 0.01 * -Math.log(0.9), 7); // confident positive: 2.634e-4
    expect(l[1]).toBeCloseTo(0.75 * 0.01 * -Math.log(0.9), 7); // confident negative: 7.902e-4
    expect(l[2]).toBeCloseTo(0.25 * 0.81 * -Math.log(0.1), 6); // missed positive
    expect(l[3]).toBeCloseTo(0.75 * 0.81 * -Math.log(0.1), 6); // false alarm
  });

  it('BCE on logits is stable for large logits', () => {
    const l = bceWithLogits(tf.tensor1d([100, -100, 0]), tf.tensor1d([1, 1, 0])).arraySync() as number[];
    expect(l[0]).toBeCloseTo(0, 6);
    expect(l[1]).toBeCloseTo(100, 4);
    expect(l[2]).toBeCloseTo(Math.log(2), 6);
  });

  it('smoothed Jaccard distance with δ = 100', () => {
    // 200 target pixels, prediction covers 150 of them plus 50 others (soft values 1).
    const t = new Float32Array(400);
    const p = new Float32Array(400);
    for (let i = 0; i < 200; i++) t[i] = 1;
    for (let i = 50; i < 250; i++) p[i] = 1;
    const d = jaccardDistance(tf.tensor3d(p, [1, 20, 20]), tf.tensor3d(t, [1, 20, 20])).arraySync() as number[];
    expect(d[0]).toBeCloseTo(1 - (150 + 100) / (200 + 200 - 150 + 100), 6);
    const perfect = jaccardDistance(tf.tensor3d(t, [1, 20, 20]), tf.tensor3d(t, [1, 20, 20])).arraySync() as number[];
    expect(perfect[0]).toBeCloseTo(0, 6);
  });

  it('smooth L1 is quadratic below β and linear above', () => {
    const l = smoothL1(tf.tensor1d([0.05, 0.5, -2]), tf.zeros([3]), 1 / 9).arraySync() as number[];
    expect(l[0]).toBeCloseTo((0.5 * 0.05 * 0.05) / (1 / 9), 6);
    expect(l[1]).toBeCloseTo(0.5 - 0.5 / 9, 6);
    expect(l[2]).toBeCloseTo(2 - 0.5 / 9, 6);
  });

  it('softmax focal loss weights the class and down-weights easy examples', () => {
    const logits = tf.tensor2d([[Math.log(0.1), Math.log(0.1), Math.log(0.8)]]);
    const l = softmaxFocalLoss(logits, tf.tensor2d([[0, 0, 1]]), [1, 1, 2]).arraySync() as number[];
    expect(l[0]).toBeCloseTo(2 * 0.04 * -Math.log(0.8), 6);
  });
});
