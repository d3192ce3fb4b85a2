import * as tf from '@tensorflow/tfjs-core';
import { conv2d, type ConvOptions } from './conv2d.js';
import { countFlops } from './flops.js';
import type { ParamStore } from './params.js';

/** How a forward pass treats batch norm: batch statistics while training, running ones otherwise. */
export interface Mode {
  training: boolean;
  /** Running-statistic updates collected during a training forward, applied after the step. */
  bnUpdates?: Array<{ name: string; mean: tf.Tensor; variance: tf.Tensor }>;
}

export const BN_EPS = 1e-5;

/** Declares a conv's weights; separate from use so the whole network can be built before any forward. */
export function declareConv(p: ParamStore, name: string, kh: number, kw: number, cin: number, cout: number, opts: { bn: boolean; bias?: boolean; gain?: number; std?: number }): void {
  if (opts.std !== undefined) p.normal(`${name}/kernel`, [kh, kw, cin, cout], opts.std);
  else p.heNormal(`${name}/kernel`, [kh, kw, cin, cout], opts.gain);
  if (opts.bn) {
    p.constant(`${name}/bn/gamma`, [cout], 1);
    p.constant(`${name}/bn/beta`, [cout], 0);
    p.constant(`${name}/bn/mean`, [cout], 0, false);
    p.constant(`${name}/bn/variance`, [cout], 1, false);
  } else if (opts.bias ?? true) {
    p.constant(`${name}/bias`, [cout], 0);
  }
}

export type Activation = 'relu' | 'linear';

/**
 * Convolution + (batch norm | bias) + activation. When the weights were folded for inference
 * (`<name>/folded_bias` present) it is a single fused kernel.
 */
export function conv(p: ParamStore, mode: Mode, name: string, x: tf.Tensor4D, opts: ConvOptions & { act?: Activation } = {}): tf.Tensor4D {
  const act = opts.act ?? 'relu';
  const kernel = p.get(`${name}/kernel`) as unknown as tf.Tensor4D;
  const stride = opts.stride ?? 1;
  const [kh, kw, cin, cout] = kernel.shape;
  countFlops(2 * x.shape[0] * Math.ceil(x.shape[1] / stride) * Math.ceil(x.shape[2] / stride) * kh * kw * cin * cout);
  if (!mode.training && p.has(`${name}/folded_bias`)) {
    const pads = opts.pad;
    return tf.fused.conv2d({
      x,
      filter: kernel,
      strides: opts.stride ?? 1,
      pad: Array.isArray(pads) ? [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]] : (pads ?? 'same'),
      bias: p.get(`${name}/folded_bias`),
      activation: act,
    });
  }
  let y = conv2d(x, kernel, opts);
  if (p.has(`${name}/bn/gamma`)) y = batchNorm(p, mode, `${name}/bn`, y);
  else if (p.has(`${name}/bias`)) y = tf.add(y, p.get(`${name}/bias`));
  return act === 'relu' ? tf.relu(y) : y;
}

function batchNorm(p: ParamStore, mode: Mode, name: string, x: tf.Tensor4D): tf.Tensor4D {
  const gamma = p.get(`${name}/gamma`);
  const beta = p.get(`${name}/beta`);
  if (mode.training) {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    mode.bnUpdates?.push({ name, mean: tf.keep(mean), variance: tf.keep(variance) });
    return tf.batchNorm(x, mean, variance, beta, gamma, BN_EPS) as tf.Tensor4D;
  }
  return tf.batchNorm(x, p.get(`${name}/mean`), p.get(`${name}/variance`), beta, gamma, BN_EPS) as tf.Tensor4D;
}

/** Exponential moving average of the batch statistics into the running ones. */
export function applyBnUpdates(p: ParamStore, mode: Mode, momentum = 0.9): void {
  for (const u of mode.bnUpdates ?? []) {
    tf.tidy(() => {
      const m = p.get(`${u.name}/mean`);
      const v = p.get(`${u.name}/variance`);
      m.assign(tf.add(tf.mul(m, momentum), tf.mul(u.mean, 1 - momentum)));
      v.assign(tf.add(tf.mul(v, momentum), tf.mul(u.variance, 1 - momentum)));
    });
    u.mean.dispose();
    u.variance.dispose();
  }
  if (mode.bnUpdates) mode.bnUpdates.length = 0;
}

/**
 * Folds each batch norm into its convolution (w·γ/σ, β − μ·γ/σ): one fused conv+bias+ReLU kernel per
 * layer at inference instead of conv, four element-wise ops and a ReLU.
 */
export function foldBatchNorms(p: ParamStore): void {
  // Frozen (pretrained) layers keep their gamma among the fixed weights: fold those too.
  const names = p.all().map(([n]) => n).filter((n) => n.endsWith('/bn/gamma')).map((n) => n.slice(0, -'/bn/gamma'.length));
  for (const name of names) {
    tf.tidy(() => {
      const gamma = p.get(`${name}/bn/gamma`);
      const scale = tf.div(gamma, tf.sqrt(tf.add(p.get(`${name}/bn/variance`), BN_EPS)));
      // A depthwise kernel [kh, kw, C, 1] scales per input channel.
      const depthwise = p.has(`${name}/depthwise_kernel`);
      const kernel = p.get(`${name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`);
      kernel.assign(tf.mul(kernel, depthwise ? scale.reshape([-1, 1]) : scale));
      const bias = tf.sub(p.get(`${name}/bn/beta`), tf.mul(p.get(`${name}/bn/mean`), scale));
      p.constant(`${name}/folded_bias`, [scale.size], 0, false).assign(bias);
    });
    for (const suffix of ['gamma', 'beta', 'mean', 'variance']) {
      const key = `${name}/bn/${suffix}`;
      const v = p.get(key);
      p.trainable.delete(key);
      p.stats.delete(key);
      v.dispose();
    }
  }
}

export function declareDense(p: ParamStore, name: string, cin: number, cout: number, std?: number): void {
  if (std !== undefined) p.normal(`${name}/kernel`, [cin, cout], std);
  else p.heNormal(`${name}/kernel`, [cin, cout]);
  p.constant(`${name}/bias`, [cout], 0);
}

export function dense(p: ParamStore, name: string, x: tf.Tensor2D, act: Activation = 'relu'): tf.Tensor2D {
  const k = p.get(`${name}/kernel`);
  countFlops(2 * x.shape[0] * k.size);
  return tf.fused.matMul({ a: x, b: p.get(`${name}/kernel`) as unknown as tf.Tensor2D, bias: p.get(`${name}/bias`), activation: act }) as tf.Tensor2D;
}
