import * as tf from '@tensorflow/tfjs-core';
import { conv, declareConv, type Mode } from './layers.js';
import type { ParamStore } from './params.js';

export function declareFpn(p: ParamStore, inChannels: number[], width: number): void {
  inChannels.forEach((c, i) => {
    declareConv(p, `fpn/lateral${i + 2}`, 1, 1, c, width, { bn: false, gain: 1 });
    declareConv(p, `fpn/out${i + 2}`, 3, 3, width, width, { bn: false, gain: 1 });
  });
}

/** P5 = lateral(C5); P4 = lateral(C4) + 2× nearest-upsampled P5; … ; then a 3×3 conv on each (the paper's FPN). */
export function fpn(p: ParamStore, mode: Mode, cs: tf.Tensor4D[]): tf.Tensor4D[] {
  const laterals = cs.map((c, i) => conv(p, mode, `fpn/lateral${i + 2}`, c, { act: 'linear' }));
  const merged: tf.Tensor4D[] = new Array(laterals.length);
  merged[laterals.length - 1] = laterals[laterals.length - 1];
  for (let i = laterals.length - 2; i >= 0; i--) {
    const [, h, w] = laterals[i].shape;
    merged[i] = tf.add(laterals[i], tf.image.resizeNearestNeighbor(merged[i + 1], [h, w]));
  }
  return merged.map((m, i) => conv(p, mode, `fpn/out${i + 2}`, m, { act: 'linear' }));
}
