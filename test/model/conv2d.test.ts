import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { conv2d, samePads } from '../../src/model/conv2d.js';
import '../../src/model/backend.js';

function seeded(shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** Reference gradients from the cpu backend's own Conv2DBackpropInput/Filter kernels. */
async function reference(xs: number[], ws: number[], stride: number, pad: 'same' | 'valid') {
  await tf.setBackend('cpu');
  const x = tf.tensor4d(seeded(xs, 1), xs as [number, number, number, number]);
  const w = tf.tensor4d(seeded(ws, 2), ws as [number, number, number, number]);
  const dySeed = 3;
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
    const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
    return tf.sum(tf.mul(y, tf.tensor(seeded(y.shape, dySeed), y.shape)));
  });
  const [dx, dw] = g([x, w]);
  return { y: tf.conv2d(x, w, stride, pad).arraySync(), dx: dx.arraySync(), dw: dw.arraySync() };
}

async function ours(xs: number[], ws: number[], stride: number, pad: 'same' | 'valid') {
  await tf.setBackend('wasm');
  const x = tf.tensor4d(seeded(xs, 1), xs as [number, number, number, number]);
  const w = tf.tensor4d(seeded(ws, 2), ws as [number, number, number, number]);
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
    const y = conv2d(a as tf.Tensor4D, b as tf.Tensor4D, { stride, pad });
    return tf.sum(tf.mul(y, tf.tensor(seeded(y.shape, 3), y.shape)));
  });
  const [dx, dw] = g([x, w]);
  return { y: conv2d(x, w, { stride, pad }).arraySync(), dx: dx.arraySync(), dw: dw.arraySync() };
}

function maxAbsDiff(a: unknown, b: unknown): number {
  const fa = (a as number[]).flat(4) as number[];
  const fb = (b as number[]).flat(4) as number[];
  expect(fa.length).toBe(fb.length);
  return fa.reduce((m, v, i) => Math.max(m, Math.abs(v - fb[i])), 0);
}

describe('conv2d with wasm-friendly gradients', () => {
  it('computes TensorFlow same padding', () => {
    expect(samePads(6, 6, 3, 3, 2)).toEqual([0, 1, 0, 1]);
    expect(samePads(5, 5, 3, 3, 2)).toEqual([1, 1, 1, 1]);
    expect(samePads(8, 8, 7, 7, 2)).toEqual([2, 3, 2, 3]);
  });

  const cases: Array<[string, number[], number[], number, 'same' | 'valid']> = [
    ['3x3 stride 1 same', [2, 9, 7, 3], [3, 3, 3, 4], 1, 'same'],
    ['3x3 stride 2 same, even size', [2, 8, 8, 3], [3, 3, 3, 5], 2, 'same'],
    ['3x3 stride 2 same, odd size', [1, 9, 7, 2], [3, 3, 2, 3], 2, 'same'],
    ['1x1 stride 2 valid', [2, 8, 6, 4], [1, 1, 4, 6], 2, 'valid'],
    ['7x7 stride 2 same (stem)', [1, 16, 16, 3], [7, 7, 3, 4], 2, 'same'],
    ['3x3 stride 2 valid, odd size', [1, 9, 9, 2], [3, 3, 2, 2], 2, 'valid'],
  ];
  for (const [name, xs, ws, stride, pad] of cases) {
    it(`matches the cpu backend's gradients: ${name}`, async () => {
      const ref = await reference(xs, ws, stride, pad);
      const got = await ours(xs, ws, stride, pad);
      expect(maxAbsDiff(got.y, ref.y)).toBeLessThan(1e-4);
      expect(maxAbsDiff(got.dx, ref.dx)).toBeLessThan(1e-4);
      expect(maxAbsDiff(got.dw, ref.dw)).toBeLessThan(1e-4);
    });
  }
});
