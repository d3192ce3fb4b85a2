import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.js';
import { conv, declareConv, declareDense, dense, type Mode } from './layers.js';
import type { ParamStore } from './params.js';

/** Background + the two lesion classes; index 0 is background as in Faster R-CNN. */
export const NUM_HEAD_CLASSES = 3;

export function declareRpnHead(p: ParamStore, cfg: ModelConfig, anchorsPerLocation: number): void {
  declareConv(p, 'rpn/conv', 3, 3, cfg.fpnChannels, cfg.rpn.channels, { bn: false });
  declareConv(p, 'rpn/objectness', 1, 1, cfg.rpn.channels, anchorsPerLocation, { bn: false, std: 0.01 });
  declareConv(p, 'rpn/deltas', 1, 1, cfg.rpn.channels, anchorsPerLocation * 4, { bn: false, std: 0.01 });
  // Prior of 1 % foreground (RetinaNet): keeps the focal loss from being swamped by easy negatives at step 0.
  p.get('rpn/objectness/bias').assign(tf.fill([anchorsPerLocation], -Math.log(99)));
}

/** Objectness logits [B, N] and deltas [B, N, 4] over all levels, in the anchors' order. */
export function rpnHead(p: ParamStore, mode: Mode, levels: tf.Tensor4D[]): { logits: tf.Tensor2D; deltas: tf.Tensor3D } {
  const logits: tf.Tensor2D[] = [];
  const deltas: tf.Tensor3D[] = [];
  for (const f of levels) {
    const h = conv(p, mode, 'rpn/conv', f);
    const o = conv(p, mode, 'rpn/objectness', h, { act: 'linear' });
    const d = conv(p, mode, 'rpn/deltas', h, { act: 'linear' });
    const b = f.shape[0];
    logits.push(tf.reshape(o, [b, -1]));
    deltas.push(tf.reshape(d, [b, -1, 4]));
  }
  return { logits: tf.concat(logits, 1), deltas: tf.concat(deltas, 1) };
}

export function declareBoxHead(p: ParamStore, cfg: ModelConfig): void {
  const inDim = cfg.roi.boxPool * cfg.roi.boxPool * cfg.fpnChannels;
  declareDense(p, 'box/fc1', inDim, cfg.heads.fcDim);
  declareDense(p, 'box/fc2', cfg.heads.fcDim, cfg.heads.fcDim);
  declareDense(p, 'box/cls', cfg.heads.fcDim, NUM_HEAD_CLASSES, 0.01);
  declareDense(p, 'box/deltas', cfg.heads.fcDim, 4, 0.001);
}

/** The classify and detect subnets: two shared FC layers, then class logits [R, 3] and box deltas [R, 4]. */
export function boxHead(p: ParamStore, pooled: tf.Tensor4D): { classLogits: tf.Tensor2D; deltas: tf.Tensor2D } {
  const r = pooled.shape[0];
  let h = tf.reshape(pooled, [r, -1]) as tf.Tensor2D;
  h = dense(p, 'box/fc1', h);
  h = dense(p, 'box/fc2', h);
  return { classLogits: dense(p, 'box/cls', h, 'linear'), deltas: dense(p, 'box/deltas', h, 'linear') };
}

export function declareMaskHead(p: ParamStore, cfg: ModelConfig): void {
  let cin = cfg.fpnChannels;
  for (let i = 0; i < cfg.heads.maskConvs; i++) {
    declareConv(p, `mask/conv${i + 1}`, 3, 3, cin, cfg.heads.maskChannels, { bn: false });
    cin = cfg.heads.maskChannels;
  }
  // The 2×2 stride-2 transposed conv, stored as a 1×1 conv to 4·C channels (see maskHead).
  declareConv(p, 'mask/upsample', 1, 1, cin, 4 * cfg.heads.maskChannels, { bn: false });
  declareConv(p, 'mask/logits', 1, 1, cfg.heads.maskChannels, 1, { bn: false, std: 0.001 });
}

/**
 * The segment subnet (Mask R-CNN's mask head): four 3×3 convs, a 2× transposed conv, a 1×1 conv to
 * one class-agnostic logit map [R, 2P, 2P]. A 2×2 transposed conv with stride 2 has no overlapping
 * taps, so it is exactly a 1×1 conv to 4·C channels followed by a pixel shuffle; written that way its
 * gradient needs no Conv2DBackpropFilter (missing on wasm).
 */
export function maskHead(p: ParamStore, mode: Mode, cfg: ModelConfig, pooled: tf.Tensor4D): tf.Tensor3D {
  let h = pooled;
  for (let i = 0; i < cfg.heads.maskConvs; i++) h = conv(p, mode, `mask/conv${i + 1}`, h);
  const [r, s] = h.shape;
  const cm = cfg.heads.maskChannels;
  const up4 = conv(p, mode, 'mask/upsample', h);
  const shuffled = tf.reshape(tf.transpose(tf.reshape(up4, [r, s, s, 2, 2, cm]), [0, 1, 3, 2, 4, 5]), [r, 2 * s, 2 * s, cm]) as tf.Tensor4D;
  const logits = conv(p, mode, 'mask/logits', shuffled, { act: 'linear' });
  return tf.reshape(logits, [r, 2 * s, 2 * s]);
}
