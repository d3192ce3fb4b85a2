import * as tf from '@tensorflow/tfjs-core';
import { conv2d } from './conv2d.js';
import { depthwiseConv2d } from './depthwise_conv.js';
import { countFlops } from './flops.js';
import { INPUT_SCALE } from './letterbox.js';
import type { Mode } from './layers.js';
import { loadNsfwjsMobileNetV2 } from './nsfwjs_mobilenet.js';
import type { ParamStore } from './params.js';

export interface MobileNetV2Config {
  type: 'mobilenetv2';
  /** Blocks before this one (stem, expanded_conv, block_1 … block_{n−1}) keep their pretrained weights. */
  trainFromBlock: number;
  /** Start from nsfwjs's weights (true) or from random ones (tests). */
  pretrained: boolean;
}

export interface Layer {
  name: string;
  bn: string;
  kind: 'conv' | 'depthwise';
  k: number;
  cin: number;
  cout: number;
  stride: number;
  act: 'relu6' | 'linear';
  /** Index of the block this layer belongs to (stem 0, expanded_conv 0, block_i i). */
  block: number;
}

export interface Block {
  layers: Layer[];
  residual: boolean;
  /** Keras name of this block's expansion ReLU, a possible FPN tap. */
  expandRelu?: string;
}

/** Keras MobileNetV2 α 1.0: (expansion t, channels c, repeats n, first stride s). */
const SETTINGS: Array<[number, number, number, number]> = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** The layers of Keras MobileNetV2 α 1.0 in order (also what the ONNX export walks). */
export function plan(): { stem: Layer; blocks: Block[]; head: Layer } {
  const stem: Layer = { name: 'Conv1', bn: 'bn_Conv1', kind: 'conv', k: 3, cin: 3, cout: 32, stride: 2, act: 'relu6', block: 0 };
  const blocks: Block[] = [];
  let cin = 32;
  let index = 0;
  for (const [t, c, n, s] of SETTINGS) {
    for (let r = 0; r < n; r++) {
      const stride = r === 0 ? s : 1;
      const prefix = index === 0 ? 'expanded_conv' : `block_${index}`;
      const mid = cin * t;
      const layers: Layer[] = [];
      if (t !== 1) layers.push({ name: `${prefix}_expand`, bn: `${prefix}_expand_BN`, kind: 'conv', k: 1, cin, cout: mid, stride: 1, act: 'relu6', block: index });
      layers.push({ name: `${prefix}_depthwise`, bn: `${prefix}_depthwise_BN`, kind: 'depthwise', k: 3, cin: mid, cout: mid, stride, act: 'relu6', block: index });
      layers.push({ name: `${prefix}_project`, bn: `${prefix}_project_BN`, kind: 'conv', k: 1, cin: mid, cout: c, stride: 1, act: 'linear', block: index });
      blocks.push({ layers, residual: stride === 1 && cin === c, expandRelu: t !== 1 ? `${prefix}_expand_relu` : undefined });
      cin = c;
      index++;
    }
  }
  const head: Layer = { name: 'Conv_1', bn: 'Conv_1_bn', kind: 'conv', k: 1, cin: 320, cout: 1280, stride: 1, act: 'relu6', block: 17 };
  return { stem, blocks, head };
}

/**
 * FPN taps at strides 4/8/16/32 (MODEL.md): the expansion ReLUs of blocks 3, 6 and 13 (each just before
 * a stride-2 depthwise, so they carry the finest features of their stride) and the final `out_relu`.
 * A frozen linear probe found the mid-level taps transfer better to dermoscopy than `out_relu`.
 */
export const TAPS = ['block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu', 'out_relu'];

export function mobileNetV2Channels(): number[] {
  return [144, 192, 576, 1280];
}

const KERAS_BN_EPS = 1e-3;
/** layers.ts folds and applies batch norm with ε = 1e-5; Keras trained with 1e-3. */
const OUR_BN_EPS = 1e-5;

function kernelName(l: Layer): string {
  return `backbone/${l.name}/${l.kind === 'depthwise' ? 'depthwise_kernel' : 'kernel'}`;
}

function allLayers(): Layer[] {
  const pl = plan();
  return [pl.stem, ...pl.blocks.flatMap((b) => b.layers), pl.head];
}

export function declareMobileNetV2(p: ParamStore, cfg: MobileNetV2Config): void {
  const fresh = !p.has(kernelName(allLayers()[0]));
  const pretrained = fresh && cfg.pretrained ? loadNsfwjsMobileNetV2() : null;
  for (const l of allLayers()) {
    const shape = l.kind === 'depthwise' ? [l.k, l.k, l.cin, 1] : [l.k, l.k, l.cin, l.cout];
    const base = `backbone/${l.name}`;
    p.heNormal(kernelName(l), shape, l.kind === 'depthwise' ? 2 * l.cin : 2);
    p.constant(`${base}/bn/gamma`, [l.cout], 1);
    p.constant(`${base}/bn/beta`, [l.cout], 0);
    p.constant(`${base}/bn/mean`, [l.cout], 0, false);
    p.constant(`${base}/bn/variance`, [l.cout], 1, false);
    if (!pretrained) continue;
    const src = (k: string) => {
      const t = pretrained.get(k);
      if (!t) throw new Error(`nsfwjs MobileNetV2 weights lack ${k}: the nsfwjs version differs from 4.4.0`);
      return t;
    };
    p.get(kernelName(l)).assign(src(`${l.name}/${l.kind === 'depthwise' ? 'depthwise_kernel' : 'kernel'}`));
    p.get(`${base}/bn/gamma`).assign(src(`${l.bn}/gamma`));
    p.get(`${base}/bn/beta`).assign(src(`${l.bn}/beta`));
    p.get(`${base}/bn/mean`).assign(src(`${l.bn}/moving_mean`));
    // Same normalisation under our ε: var' + 1e-5 = var + 1e-3.
    tf.tidy(() => p.get(`${base}/bn/variance`).assign(tf.add(src(`${l.bn}/moving_variance`), KERAS_BN_EPS - OUR_BN_EPS)));
  }
  pretrained?.forEach((t) => t.dispose());
}

/** Names of the backbone weights that stay at their pretrained values. */
export function frozenMobileNetV2Weights(cfg: MobileNetV2Config): string[] {
  return allLayers()
    .filter((l) => l.name === 'Conv1' || l.block < cfg.trainFromBlock)
    .flatMap((l) => [kernelName(l), `backbone/${l.name}/bn/gamma`, `backbone/${l.name}/bn/beta`]);
}

/**
 * One conv/depthwise layer with batch norm frozen in inference mode (pretrained statistics; batch 4–8
 * statistics are noisy, and batch-mode BN at batch 8 / 224 px ran wasm out of memory, MODEL.md). The
 * affine form x·γ/σ + (β − μγ/σ) differentiates with broadcasting; tf.batchNorm's gradient
 * materialises Tile (5.5 s a step, measured). Folded weights run as one fused kernel.
 */
function layer(p: ParamStore, mode: Mode, l: Layer, x: tf.Tensor4D): tf.Tensor4D {
  const base = `backbone/${l.name}`;
  const kernel = p.get(kernelName(l)) as unknown as tf.Tensor4D;
  const [, h, w] = x.shape;
  countFlops(2 * x.shape[0] * Math.ceil(h / l.stride) * Math.ceil(w / l.stride) * l.k * l.k * l.cin * (l.kind === 'depthwise' ? 1 : l.cout));
  if (!mode.training && p.has(`${base}/folded_bias`)) {
    const bias = p.get(`${base}/folded_bias`);
    return l.kind === 'depthwise'
      ? tf.fused.depthwiseConv2d({ x, filter: kernel, strides: l.stride, pad: 'same', bias, activation: l.act })
      : tf.fused.conv2d({ x, filter: kernel, strides: l.stride, pad: 'same', bias, activation: l.act });
  }
  const y = l.kind === 'depthwise' ? depthwiseConv2d(x, kernel, l.stride) : conv2d(x, kernel, { stride: l.stride, inputGrad: l.name !== 'Conv1' });
  const scale = tf.div(p.get(`${base}/bn/gamma`), tf.sqrt(tf.add(p.get(`${base}/bn/variance`), OUR_BN_EPS)));
  const shift = tf.sub(p.get(`${base}/bn/beta`), tf.mul(p.get(`${base}/bn/mean`), scale));
  const z = tf.add(tf.mul(y, scale), shift) as tf.Tensor4D;
  return l.act === 'relu6' ? tf.relu6(z) : z;
}

/** Returns the four taps at strides 4, 8, 16, 32. Input: the network's letterboxed, mean-subtracted image. */
export function mobileNetV2(p: ParamStore, mode: Mode, means: [number, number, number], x: tf.Tensor4D): tf.Tensor4D[] {
  const pl = plan();
  // nsfwjs feeds RGB/255: undo our (x − mean)·INPUT_SCALE (letterbox padding, 0 here, becomes black = 0).
  let h = tf.add(tf.mul(x, 1 / (255 * INPUT_SCALE)), tf.div(tf.tensor1d(means), 255)) as tf.Tensor4D;
  h = layer(p, mode, pl.stem, h);
  const taps = new Map<string, tf.Tensor4D>();
  for (const b of pl.blocks) {
    let r = h;
    for (const l of b.layers) {
      r = layer(p, mode, l, r);
      if (l.name.endsWith('_expand') && b.expandRelu) taps.set(b.expandRelu, r);
    }
    h = b.residual ? (tf.add(h, r) as tf.Tensor4D) : r;
  }
  taps.set('out_relu', layer(p, mode, pl.head, h));
  return TAPS.map((t) => {
    const v = taps.get(t);
    if (!v) throw new Error(`MobileNetV2 tap ${t} missing`);
    return v;
  });
}
