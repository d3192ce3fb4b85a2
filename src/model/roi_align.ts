import * as tf from '@tensorflow/tfjs-core';
import { countFlops } from './flops.js';

/**
 * Row of RoI-align weights for one output bin: the mean of the bilinear weights of `samples` evenly
 * spaced points (Detectron2's aligned=True: pixel centres at +0.5). Points outside [-1, length] add
 * nothing, as in Mask R-CNN.
 */
export function bilinearWeights(start: number, binSize: number, pooled: number, samples: number, length: number): Float32Array {
  const out = new Float32Array(pooled * length);
  for (let p = 0; p < pooled; p++) {
    for (let s = 0; s < samples; s++) {
      let t = start + (p + (s + 0.5) / samples) * binSize;
      if (t < -1 || t > length) continue;
      t = Math.min(Math.max(t, 0), length - 1);
      const lo = Math.floor(t);
      const hi = Math.min(lo + 1, length - 1);
      const frac = t - lo;
      out[p * length + lo] += (1 - frac) / samples;
      out[p * length + hi] += frac / samples;
    }
  }
  return out;
}

export interface Roi {
  /** Index of the image in the batch. */
  batch: number;
  /** [x1, y1, x2, y2] in input pixels. */
  box: ArrayLike<number>;
}

/** FPN level (index into P2..P5) for a box, by its size; larger boxes pool from coarser levels. */
export function roiLevel(box: ArrayLike<number>, inputSize: number): number {
  const side = Math.sqrt(Math.max((box[2] - box[0]) * (box[3] - box[1]), 1e-6));
  // Canonical: a box of 0.875 × the input pools from P4 (FPN's 224 px on a 256-px-ish input), scaled to this input.
  const k = Math.floor(4 + Math.log2(side / (0.875 * inputSize)));
  return Math.min(Math.max(k, 2), 5) - 2;
}

/**
 * RoI align as two matrix products per (image, level): pooled = Ry · F · Rxᵀ. Written with matMul
 * because tfjs has no gradient for CropAndResize; the result is the same as Mask R-CNN's RoIAlign
 * (bilinear sampling, `samples`² points per bin, averaged) and it backpropagates into the features.
 * Returns [R, pooled, pooled, C] in the order of `rois`.
 */
export function roiAlign(levels: tf.Tensor4D[], strides: number[], rois: Roi[], levelOf: (r: Roi) => number, pooled: number, samples: number): tf.Tensor4D {
  const c = levels[0].shape[3];
  if (rois.length === 0) return tf.zeros([0, pooled, pooled, c]) as tf.Tensor4D;
  const groups = new Map<string, number[]>();
  rois.forEach((r, i) => {
    const key = `${r.batch}:${levelOf(r)}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  const parts: tf.Tensor[] = [];
  const order: number[] = [];
  for (const [key, idx] of groups) {
    const [b, l] = key.split(':').map(Number);
    const f = levels[l];
    const [, h, w] = f.shape;
    const s = strides[l];
    const ry = new Float32Array(idx.length * pooled * h);
    const rx = new Float32Array(idx.length * pooled * w);
    idx.forEach((ri, j) => {
      const box = rois[ri].box;
      const x1 = box[0] / s - 0.5;
      const y1 = box[1] / s - 0.5;
      const bw = Math.max((box[2] - box[0]) / s, 1e-3) / pooled;
      const bh = Math.max((box[3] - box[1]) / s, 1e-3) / pooled;
      ry.set(bilinearWeights(y1, bh, pooled, samples, h), j * pooled * h);
      rx.set(bilinearWeights(x1, bw, pooled, samples, w), j * pooled * w);
      order.push(ri);
    });
    const n = idx.length;
    countFlops(2 * n * pooled * h * w * c + 2 * n * pooled * w * pooled * c);
    const fm = tf.reshape(tf.slice(f, [b, 0, 0, 0], [1, h, w, c]), [h, w * c]);
    // Rows first: [n·P, H] × [H, W·C].
    const t = tf.matMul(tf.tensor2d(ry, [n * pooled, h]), fm);
    // Then columns, batched per RoI: [n, Q, W] × [n, W, P·C].
    const tt = tf.reshape(tf.transpose(tf.reshape(t, [n, pooled, w, c]), [0, 2, 1, 3]), [n, w, pooled * c]);
    const out = tf.matMul(tf.tensor3d(rx, [n, pooled, w]), tt);
    parts.push(tf.transpose(tf.reshape(out, [n, pooled, pooled, c]), [0, 2, 1, 3]));
  }
  const stacked = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
  if (order.every((ri, pos) => ri === pos)) return stacked as tf.Tensor4D;
  // Back to the caller's order with a permutation matrix: tfjs's gather gradient needs UnsortedSegmentSum,
  // which wasm lacks, while matMul's gradient is a matMul.
  const perm = new Float32Array(rois.length * rois.length);
  order.forEach((ri, pos) => (perm[ri * rois.length + pos] = 1));
  const flat = tf.reshape(stacked, [rois.length, pooled * pooled * c]);
  return tf.reshape(tf.matMul(tf.tensor2d(perm, [rois.length, rois.length]), flat), [rois.length, pooled, pooled, c]) as tf.Tensor4D;
}
