import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { conv2d } from '../../src/model/conv2d.js';
import { depthwiseConv2d } from '../../src/model/depthwise_conv.js';
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

type Op = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;

async function gradsOn(backend: string, xs: number[], ws: number[], op: Op) {
  await tf.setBackend(backend);
  const x = tf.tensor4d(seeded(xs, 1), xs as [number, number, number, number]);
  const w = tf.tensor4d(seeded(ws, 2), ws as [number, number, number, number]);
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
    const y = op(a as tf.Tensor4D, b as tf.Tensor4D);
    return tf.sum(tf.mul(y, tf.tensor(seeded(y.shape, 3), y.shape)));
  });
  const [dx, dw] = g([x, w]);
  return { y: op(x, w).arraySync() as number[][][][], dx: dx.arraySync() as number[][][][], dw: dw.arraySync() as number[][][][] };
}

function maxDiff(a: unknown, b: unknown): number {
  const fa = (a as number[]).flat(4) as number[];
  const fb = (b as number[]).flat(4) as number[];
  expect(fa.length).toBe(fb.length);
  return Math.max(...fa.map((v, i) => Math.abs(v - fb[i])));
}

describe('depthwiseConv2d (wasm-trainable)', () => {
  for (const [h, w, stride] of [[8, 8, 1], [8, 8, 2], [7, 9, 2], [6, 5, 1]] as const) {
    it(`matches the cpu backend's kernels: ${h}×${w}, stride ${stride}`, async () => {
      const xs = [2, h, w, 5];
      const ws = [3, 3, 5, 1];
      const ref = await gradsOn('cpu', xs, ws, (x, k) => tf.depthwiseConv2d(x, k, stride, 'same'));
      const got = await gradsOn('wasm', xs, ws, (x, k) => depthwiseConv2d(x, k, stride));
      expect(maxDiff(got.y, ref.y)).toBeLessThan(1e-5);
      expect(maxDiff(got.dx, ref.dx)).toBeLessThan(1e-5);
      expect(maxDiff(got.dw, ref.dw)).toBeLessThan(1e-4);
    });
  }

  it('the 1×1 filter gradient through matMul matches the cpu backend', async () => {
    const xs = [2, 6, 6, 7];
    const ws = [1, 1, 7, 4];
    const ref = await gradsOn('cpu', xs, ws, (x, k) => tf.conv2d(x, k, 1, 'same'));
    const got = await gradsOn('wasm', xs, ws, (x, k) => conv2d(x, k));
    expect(maxDiff(got.dw, ref.dw)).toBeLessThan(1e-4);
    expect(maxDiff(got.dx, ref.dx)).toBeLessThan(1e-5);
  });
});
