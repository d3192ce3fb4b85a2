import * as tf from '@tensorflow/tfjs-core';

/** [top, bottom, left, right] zero padding of a 2-D convolution. */
export type Pads = [number, number, number, number];

/** TensorFlow's 'same' padding, made explicit so the hand-written gradients below can use it. */
export function samePads(h: number, w: number, kh: number, kw: number, stride: number): Pads {
  const outH = Math.ceil(h / stride);
  const outW = Math.ceil(w / stride);
  const padH = Math.max((outH - 1) * stride + kh - h, 0);
  const padW = Math.max((outW - 1) * stride + kw - w, 0);
  const top = Math.floor(padH / 2);
  const left = Math.floor(padW / 2);
  return [top, padH - top, left, padW - left];
}

export function explicit(p: Pads): [[0, 0], [number, number], [number, number], [0, 0]] {
  return [[0, 0], [p[0], p[1]], [p[2], p[3]], [0, 0]];
}

/** Inserts (stride − 1) zeros between rows and columns: the forward-conv form of a strided input gradient. */
export function dilate(dy: tf.Tensor4D, stride: number): tf.Tensor4D {
  if (stride === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const spaced = tf.pad(dy.reshape([n, h, 1, w, 1, c]), [[0, 0], [0, 0], [0, stride - 1], [0, 0], [0, stride - 1], [0, 0]]);
  return tf.slice(tf.reshape(spaced, [n, h * stride, w * stride, c]), [0, 0, 0, 0], [n, (h - 1) * stride + 1, (w - 1) * stride + 1, c]) as tf.Tensor4D;
}

/**
 * Input gradient as a forward convolution of the (dilated) output gradient with the kernel flipped in
 * space and its channel axes swapped. On wasm this runs ~10× faster than Conv2DBackpropInput.
 */
export function conv2dInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, inShape: number[], stride: number, pads: Pads): tf.Tensor4D {
  const [kh, kw] = w.shape;
  const [, h, wd] = inShape;
  const up = dilate(dy, stride);
  const flipped = tf.reverse(w, [0, 1]).transpose([0, 1, 3, 2]) as tf.Tensor4D;
  const top = kh - 1 - pads[0];
  const left = kw - 1 - pads[2];
  let bottom = h - up.shape[1] + pads[0];
  let right = wd - up.shape[2] + pads[2];
  // A forward pass that ignored trailing input rows (stride > 1) leaves them with zero gradient.
  const extraH = Math.max(0, -bottom + 0);
  const extraW = Math.max(0, -right + 0);
  bottom = Math.max(bottom, 0);
  right = Math.max(right, 0);
  if (top < 0 || left < 0) throw new Error(`conv2dInputGrad: padding ${pads} larger than kernel ${kh}x${kw}`);
  let dx = tf.conv2d(up, flipped, 1, explicit([top, bottom, left, right]));
  if (extraH > 0 || extraW > 0) dx = dx.slice([0, 0, 0, 0], [dx.shape[0], h, wd, dx.shape[3]]);
  return dx;
}

/**
 * Filter gradient as a convolution of the input with channels as batch and the output gradient as the
 * filter, dilated by the stride: wasm has no Conv2DBackpropFilter kernel at all.
 */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], stride: number, pads: Pads): tf.Tensor4D {
  const [kh, kw] = filterShape;
  if (kh === 1 && kw === 1 && stride === 1 && pads.every((v) => v === 0)) return pointwiseFilterGrad(x, dy);
  const [, h, wd] = x.shape;
  const [, oh, ow] = dy.shape;
  let bottom = kh + (oh - 1) * stride - h - pads[0];
  let right = kw + (ow - 1) * stride - wd - pads[2];
  let xs: tf.Tensor4D = x;
  if (bottom < 0 || right < 0) {
    xs = x.slice([0, 0, 0, 0], [x.shape[0], h + Math.min(bottom, 0), wd + Math.min(right, 0), x.shape[3]]);
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  const xT = xs.transpose([3, 1, 2, 0]) as tf.Tensor4D; // [C, H, W, N]
  const f = dy.transpose([1, 2, 0, 3]) as tf.Tensor4D; // [oh, ow, N, O]
  const g = tf.conv2d(xT, f, 1, explicit([pads[0], bottom, pads[2], right]), 'NHWC', stride); // [C, kh, kw, O]
  return g.transpose([1, 2, 0, 3]);
}

/**
 * A 1×1 convolution's filter gradient is Xᵀ·dY. On wasm an explicit transpose then a plain matMul is
 * ~10× faster than matMul(transposeA = true) (measured, ../shared/MODEL.md); MobileNetV2 is mostly 1×1s.
 */
export function pointwiseFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  const cin = x.shape[3];
  const cout = dy.shape[3];
  const xt = tf.transpose(x.reshape([-1, cin])) as tf.Tensor2D;
  return tf.matMul(xt, dy.reshape([-1, cout]) as tf.Tensor2D).reshape([1, 1, cin, cout]);
}

export interface ConvOptions {
  stride?: number;
  /** 'same' (TensorFlow's) or explicit pads. */
  pad?: 'same' | 'valid' | Pads;
  /** The network's first layer needs no input gradient: skip that convolution. */
  inputGrad?: boolean;
}

function resolvePads(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: ConvOptions['pad']): Pads {
  if (pad === 'valid') return [0, 0, 0, 0];
  if (pad === undefined || pad === 'same') return samePads(x.shape[1], x.shape[2], w.shape[0], w.shape[1], stride);
  return pad;
}

/**
 * conv2d whose gradients use only kernels every backend has (forward Conv2D, Reverse, Transpose, Pad),
 * so training runs on wasm. Inference on backends with real backprop kernels is unaffected: the
 * forward is the ordinary conv2d.
 */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, opts: ConvOptions = {}): tf.Tensor4D {
  const stride = opts.stride ?? 1;
  const pads = resolvePads(x, w, stride, opts.pad);
  const wantInputGrad = opts.inputGrad ?? true;
  const f = tf.customGrad(((xi: tf.Tensor, wi: tf.Tensor, save: tf.GradSaveFunc) => {
    const xx = xi as tf.Tensor4D;
    const ww = wi as tf.Tensor4D;
    save([xx, ww]);
    const value = tf.conv2d(xx, ww, stride, explicit(pads));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
      const d = dy as tf.Tensor4D;
      const dx = wantInputGrad ? conv2dInputGrad(d, sw, sx.shape, stride, pads) : tf.zerosLike(sx);
      const dw = conv2dFilterGrad(sx, d, sw.shape, stride, pads);
      return [dx, dw];
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, w) as tf.Tensor4D;
}
