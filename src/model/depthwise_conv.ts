import * as tf from '@tensorflow/tfjs-core';
import { dilate, explicit, samePads, type Pads } from './conv2d.js';

/**
 * Input gradient of a depthwise convolution (multiplier 1) as a forward depthwise convolution of the
 * zero-inserted output gradient with the spatially rotated filter: wasm has no
 * DepthwiseConv2dNativeBackpropInput kernel. Agrees with the cpu backend's kernel to float precision.
 */
export function depthwiseInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, inShape: number[], stride: number, pads: Pads): tf.Tensor4D {
  const [kh, kw] = w.shape;
  const [n, h, wd, c] = inShape;
  const up = dilate(dy, stride);
  const top = kh - 1 - pads[0];
  const left = kw - 1 - pads[2];
  if (top < 0 || left < 0) throw new Error(`depthwiseInputGrad: padding ${pads} larger than kernel ${kh}x${kw}`);
  const bottom = h - up.shape[1] + pads[0];
  const right = wd - up.shape[2] + pads[2];
  const padded = tf.pad(up, explicit([top, Math.max(bottom, 0), left, Math.max(right, 0)]));
  const dx = tf.depthwiseConv2d(padded, tf.reverse(w, [0, 1]) as tf.Tensor4D, 1, 'valid');
  return bottom < 0 || right < 0 ? dx.slice([0, 0, 0, 0], [n, h, wd, c]) : dx;
}

/**
 * Filter gradient with the batch folded into the channels: the padded input as one image of N·C
 * channels, depthwise-convolved with the output gradient as the kernel (dilated by the stride).
 * wasm has no DepthwiseConv2dNativeBackpropFilter; a strided-slice version was 10× slower (MODEL.md).
 */
export function depthwiseFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], stride: number, pads: Pads): tf.Tensor4D {
  const [kh, kw] = filterShape;
  const [n, h, wd, c] = x.shape;
  const [, oh, ow] = dy.shape;
  // Rows/cols the forward pass actually read: kh + (oh − 1)·stride of the padded input.
  const needH = kh + (oh - 1) * stride;
  const needW = kw + (ow - 1) * stride;
  let xp = tf.pad(x, explicit([pads[0], Math.max(0, needH - h - pads[0]), pads[2], Math.max(0, needW - wd - pads[2])]));
  if (xp.shape[1] > needH || xp.shape[2] > needW) xp = xp.slice([0, 0, 0, 0], [n, needH, needW, c]);
  const folded = xp.transpose([1, 2, 0, 3]).reshape([1, needH, needW, n * c]) as tf.Tensor4D;
  const kernel = dy.transpose([1, 2, 0, 3]).reshape([oh, ow, n * c, 1]) as tf.Tensor4D;
  const g = tf.depthwiseConv2d(folded, kernel, 1, 'valid', 'NHWC', stride); // [1, kh, kw, N·C]
  return tf.sum(g.reshape([kh, kw, n, c]), 2).reshape([kh, kw, c, 1]);
}

/**
 * Depthwise 3×3 (or any k) convolution, channel multiplier 1, TensorFlow 'same' padding, whose
 * gradients use only forward kernels every backend has, so MobileNetV2 trains on wasm.
 */
export function depthwiseConv2d(x: tf.Tensor4D, w: tf.Tensor4D, stride = 1): tf.Tensor4D {
  if (w.shape[3] !== 1) throw new Error(`depthwiseConv2d: channel multiplier ${w.shape[3]} unsupported (1 only)`);
  const pads = samePads(x.shape[1], x.shape[2], w.shape[0], w.shape[1], stride);
  const f = tf.customGrad(((xi: tf.Tensor, wi: tf.Tensor, save: tf.GradSaveFunc) => {
    const xx = xi as tf.Tensor4D;
    const ww = wi as tf.Tensor4D;
    save([xx, ww]);
    const value = tf.depthwiseConv2d(tf.pad(xx, explicit(pads)), ww, stride, 'valid');
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
      const d = dy as tf.Tensor4D;
      return [depthwiseInputGrad(d, sw, sx.shape, stride, pads), depthwiseFilterGrad(sx, d, sw.shape, stride, pads)];
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, w) as tf.Tensor4D;
}
