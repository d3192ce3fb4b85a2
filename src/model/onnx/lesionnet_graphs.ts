import { isResNet, type ModelConfig, type ResNetBackbone } from '../config.js';
import { samePads } from '../conv2d.js';
import { NUM_HEAD_CLASSES } from '../heads.js';
import { INPUT_SCALE } from '../letterbox.js';
import { plan, TAPS, type Layer } from '../mobilenet_v2.js';
import type { ParamStore } from '../params.js';
import { BLOCKS, isBottleneck } from '../resnet.js';
import { FLOAT32_CODE, GraphBuilder } from './graph_builder.js';

/**
 * The trained LesionNet as three ONNX graphs, split where the network leaves dense tensors:
 *  - dense: image → P2..P5 and the RPN's logits/deltas (backbone, FPN, RPN head; ~all of the FLOPs),
 *  - box head: RoI-aligned 7×7 features → class probabilities and box deltas,
 *  - mask head: RoI-aligned 14×14 features of the kept boxes → mask probabilities.
 * Proposals, RoI align and NMS stay in TypeScript (the same proposals.ts / nms.ts / roi_align.ts weights as
 * the tfjs path), so both engines take the same decisions from the same numbers; the mask head runs only on
 * the boxes NMS keeps, which a single whole-detector graph could only do with If/Loop control flow.
 *
 * Weights must already have their batch norms folded (foldBatchNorms); layouts are converted at export:
 * conv kernels HWIO → OIHW, the graphs take and give NHWC so the TypeScript side indexes as tfjs does.
 */

type Act = 'relu' | 'relu6' | 'linear';

/**
 * A kernel kept as the model's uint8 codes: value = (q·scale + min)·channelScale, where channelScale is the
 * folded batch norm's γ/σ per output channel. The graph computes that from initializers only, so ONNX
 * Runtime folds it into a float32 kernel once at session creation, and the file stays ~4× smaller.
 */
export interface QuantizedKernel {
  q: Uint8Array;
  min: number;
  scale: number;
  channelScale?: Float32Array;
}
export type QuantizedKernels = Map<string, QuantizedKernel>;

function data(p: ParamStore, name: string): Float32Array {
  return p.get(name).dataSync() as Float32Array;
}

/** HWIO (tfjs) → OIHW (ONNX). */
function toOihw<T extends Float32Array | Uint8Array>(k: T, [kh, kw, ci, co]: number[]): T {
  const out = (k instanceof Uint8Array ? new Uint8Array(k.length) : new Float32Array(k.length)) as T;
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = k[((y * kw + x) * ci + i) * co + o];
  return out;
}

class Emitter {
  constructor(
    readonly g: GraphBuilder,
    readonly p: ParamStore,
    readonly quantized: QuantizedKernels = new Map(),
  ) {}

  /** The kernel input of a Conv/Gemm: float32 weights, or uint8 codes dequantized by constant-foldable nodes. */
  private kernel(name: string, dims: number[], float: () => Float32Array, codes: (q: Uint8Array) => Uint8Array): string {
    const qk = this.quantized.get(`${name}/kernel`);
    if (!qk) return this.g.weight(`${name}/kernel`, dims, float());
    const q = this.g.uint8Weight(`${name}/kernel_q`, dims, codes(qk.q));
    let k = this.g.node('Cast', [q], { to: FLOAT32_CODE });
    k = this.g.node('Add', [this.g.node('Mul', [k, this.g.floats([qk.scale])]), this.g.floats([qk.min])]);
    if (qk.channelScale) {
      const shape = dims.length === 4 ? [dims[0], 1, 1, 1] : [dims[1]];
      k = this.g.node('Mul', [k, this.g.weight(`${name}/bn_scale`, shape, qk.channelScale)]);
    }
    return k;
  }

  /**
   * Conv + bias (+ ReLU), with TensorFlow's 'same' padding made explicit. At inputs that are multiples of 32
   * every stride-2 layer sees an even size, so these pads are the same at every such input size and the
   * graph can keep its spatial size symbolic.
   */
  conv(name: string, x: string, size: number, opts: { stride?: number; act?: Act; depthwise?: boolean } = {}): string {
    const stride = opts.stride ?? 1;
    if (stride > 1 && size % stride !== 0) throw new Error(`export: ${name} gets an odd size ${size}; input sizes must be multiples of 32`);
    const kernelKey = `${name}/${opts.depthwise ? 'depthwise_kernel' : 'kernel'}`;
    const shape = this.p.get(kernelKey).shape;
    // A depthwise kernel [kh, kw, C, 1] is a grouped Conv's [C, 1, kh, kw]: read it as HWIO with I = 1, O = C.
    const [kh, kw, ci, co] = (opts.depthwise ? [shape[0], shape[1], 1, shape[2]] : shape) as [number, number, number, number];
    const biasName = this.p.has(`${name}/folded_bias`) ? `${name}/folded_bias` : `${name}/bias`;
    if (this.p.has(`${name}/bn/gamma`)) throw new Error(`export: ${name} still has batch norm; fold it first`);
    const hwio = [kh, kw, ci, co];
    const w = opts.depthwise
      ? this.g.weight(kernelKey, [co, ci, kh, kw], toOihw(data(this.p, kernelKey), hwio))
      : this.kernel(name, [co, ci, kh, kw], () => toOihw(data(this.p, kernelKey), hwio), (q) => toOihw(q, hwio));
    const inputs = [x, w];
    if (this.p.has(biasName)) inputs.push(this.g.weight(biasName, [co], data(this.p, biasName)));
    const [t, b, l, r] = samePads(size, size, kh, kw, stride);
    const y = this.g.node('Conv', inputs, { kernel_shape: [kh, kw], strides: [stride, stride], pads: [t, l, b, r], ...(opts.depthwise && { group: co }) });
    const act = opts.act ?? 'relu';
    if (act === 'relu6') return this.g.node('Clip', [y, this.g.floats([0]), this.g.floats([6])]);
    return act === 'relu' ? this.g.node('Relu', [y]) : y;
  }

  dense(name: string, x: string, act: Act): string {
    const k = this.p.get(`${name}/kernel`);
    const [, cout] = k.shape as [number, number];
    const kernel = this.kernel(name, k.shape, () => data(this.p, `${name}/kernel`), (q) => q);
    const y = this.g.node('Gemm', [x, kernel, this.g.weight(`${name}/bias`, [cout], data(this.p, `${name}/bias`))]);
    return act === 'relu' ? this.g.node('Relu', [y]) : y;
  }
}

/** The dense graph: `image` [1, S, S, 3] (letterboxed, normalised, NHWC) → p2..p5 (NHWC), rpn_logits [1, N], rpn_deltas [1, N, 4]. */
export function denseGraph(cfg: ModelConfig, p: ParamStore, quantized?: QuantizedKernels): GraphBuilder {
  const g = new GraphBuilder(`${cfg.name}/dense`);
  const e = new Emitter(g, p, quantized);
  const S = cfg.inputSize;
  const backbone = cfg.backbone;
  const image = g.input('image', [1, 'S', 'S', 3]);
  let h = g.node('Transpose', [image], { perm: [0, 3, 1, 2] });
  const cs: string[] = isResNet(backbone) ? resnetTaps(e, h, S, backbone) : mobileNetV2Taps(e, h, S, cfg.channelMeans);
  return fpnAndRpn(e, cfg, cs);
}

/** ResNet, following resnet.ts block by block: C2..C5 (NCHW). */
function resnetTaps(e: Emitter, input: string, S: number, backbone: ResNetBackbone): string[] {
  const { g, p } = e;
  let h = input;
  // ResNet, following resnet.ts block by block.
  h = e.conv('backbone/stem', h, S, { stride: 2 });
  const [t, b, l, r] = samePads(S / 2, S / 2, 3, 3, 2);
  h = g.node('MaxPool', [h], { kernel_shape: [3, 3], strides: [2, 2], pads: [t, l, b, r] });
  let size = S / 4;
  const bottleneck = isBottleneck(backbone.depth);
  const cs: string[] = [];
  BLOCKS[backbone.depth].forEach((blocks, si) => {
    for (let bi = 0; bi < blocks; bi++) {
      const name = `backbone/c${si + 2}/b${bi}`;
      const stride = bi === 0 && si > 0 ? 2 : 1;
      let y: string;
      if (!bottleneck) {
        y = e.conv(`${name}/conv1`, h, size, { stride });
        y = e.conv(`${name}/conv2`, y, size / stride, { act: 'linear' });
      } else {
        y = e.conv(`${name}/conv1`, h, size);
        y = e.conv(`${name}/conv2`, y, size, { stride });
        y = e.conv(`${name}/conv3`, y, size / stride, { act: 'linear' });
      }
      const s = p.has(`${name}/shortcut/kernel`) ? e.conv(`${name}/shortcut`, h, size, { stride, act: 'linear' }) : h;
      h = g.node('Relu', [g.node('Add', [y, s])]);
      size /= stride;
    }
    cs.push(h);
  });
  return cs;
}

/**
 * MobileNetV2 (mobilenet_v2.ts): the same input rescaling to nsfwjs's RGB/255, the same layers (depthwise as a
 * grouped Conv, ReLU6 as Clip 0..6), the four taps at strides 4..32 (NCHW).
 */
function mobileNetV2Taps(e: Emitter, input: string, S: number, means: [number, number, number]): string[] {
  const { g } = e;
  const pl = plan();
  // (x − mean)·INPUT_SCALE → x/255: per channel, so the means broadcast as [1, 3, 1, 1].
  let h = g.node('Add', [g.node('Mul', [input, g.floats([1 / (255 * INPUT_SCALE)])]), g.weight('backbone/input_offset', [1, 3, 1, 1], Float32Array.from(means, (m) => m / 255))]);
  let size = S;
  const layer = (l: Layer, x: string): string => {
    const y = e.conv(`backbone/${l.name}`, x, size, { stride: l.stride, act: l.act, depthwise: l.kind === 'depthwise' });
    size /= l.stride;
    return y;
  };
  h = layer(pl.stem, h);
  const taps = new Map<string, string>();
  for (const b of pl.blocks) {
    let r = h;
    for (const l of b.layers) {
      r = layer(l, r);
      if (l.name.endsWith('_expand') && b.expandRelu) taps.set(b.expandRelu, r);
    }
    h = b.residual ? g.node('Add', [h, r]) : r;
  }
  taps.set('out_relu', layer(pl.head, h));
  return TAPS.map((t) => taps.get(t)!);
}

/** FPN and RPN head over the backbone's four taps; outputs p2..p5 and the RPN's logits/deltas. */
function fpnAndRpn(e: Emitter, cfg: ModelConfig, cs: string[]): GraphBuilder {
  const { g } = e;
  const S = cfg.inputSize;
  // FPN (fpn.ts): nearest 2× upsampling as tfjs's resizeNearestNeighbor (floor(dst / 2), no half-pixel shift).
  const laterals = cs.map((c, i) => e.conv(`fpn/lateral${i + 2}`, c, S / 4 / 2 ** i, { act: 'linear' }));
  const merged: string[] = new Array(laterals.length);
  merged[laterals.length - 1] = laterals[laterals.length - 1];
  const scales = g.floats([1, 1, 2, 2]);
  for (let i = laterals.length - 2; i >= 0; i--) {
    const up = g.node('Resize', [merged[i + 1], '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
    merged[i] = g.node('Add', [laterals[i], up]);
  }
  const levels = merged.map((m, i) => e.conv(`fpn/out${i + 2}`, m, S / 4 / 2 ** i, { act: 'linear' }));
  // RPN head (heads.ts), flattened level → row → column → anchor like the anchors.
  const logits: string[] = [];
  const deltas: string[] = [];
  levels.forEach((f, i) => {
    const hh = e.conv('rpn/conv', f, S / 4 / 2 ** i);
    const o = g.node('Transpose', [e.conv('rpn/objectness', hh, S / 4 / 2 ** i, { act: 'linear' })], { perm: [0, 2, 3, 1] });
    const d = g.node('Transpose', [e.conv('rpn/deltas', hh, S / 4 / 2 ** i, { act: 'linear' })], { perm: [0, 2, 3, 1] });
    logits.push(g.node('Reshape', [o, g.int64s([1, -1])]));
    deltas.push(g.node('Reshape', [d, g.int64s([1, -1, 4])]));
    g.output(g.node('Transpose', [f], { perm: [0, 2, 3, 1] }), `p${i + 2}`, [1, `S${i + 2}`, `S${i + 2}`, cfg.fpnChannels]);
  });
  g.output(g.node('Concat', logits, { axis: 1 }), 'rpn_logits', [1, 'N']);
  g.output(g.node('Concat', deltas, { axis: 1 }), 'rpn_deltas', [1, 'N', 4]);
  return g;
}

/** Box head: `pooled` [R, P, P, C] (NHWC, P = roi.boxPool) → class_probs [R, 3] (softmax; 0 = background), box_deltas [R, 4]. */
export function boxHeadGraph(cfg: ModelConfig, p: ParamStore, quantized?: QuantizedKernels): GraphBuilder {
  const g = new GraphBuilder(`${cfg.name}/box_head`);
  const e = new Emitter(g, p, quantized);
  const P = cfg.roi.boxPool;
  const x = g.input('pooled', ['R', P, P, cfg.fpnChannels]);
  // Flattened in NHWC order, as boxHead's reshape of the [R, P, P, C] tfjs tensor.
  let h = g.node('Reshape', [x, g.int64s([-1, P * P * cfg.fpnChannels])]);
  h = e.dense('box/fc1', h, 'relu');
  h = e.dense('box/fc2', h, 'relu');
  g.output(g.node('Softmax', [e.dense('box/cls', h, 'linear')], { axis: -1 }), 'class_probs', ['R', NUM_HEAD_CLASSES]);
  g.output(e.dense('box/deltas', h, 'linear'), 'box_deltas', ['R', 4]);
  return g;
}

/**
 * Mask head: `pooled` [R, M, M, C] (NHWC, M = roi.maskPool) → mask_probs [R, 2M, 2M] (sigmoid). maskHead's
 * pixel shuffle (channel (dy·2 + dx)·C + c → pixel (2y + dy, 2x + dx)) is exactly ONNX DepthToSpace in DCR mode.
 */
export function maskHeadGraph(cfg: ModelConfig, p: ParamStore, quantized?: QuantizedKernels): GraphBuilder {
  const g = new GraphBuilder(`${cfg.name}/mask_head`);
  const e = new Emitter(g, p, quantized);
  const M = cfg.roi.maskPool;
  const x = g.input('pooled', ['R', M, M, cfg.fpnChannels]);
  let h = g.node('Transpose', [x], { perm: [0, 3, 1, 2] });
  for (let i = 0; i < cfg.heads.maskConvs; i++) h = e.conv(`mask/conv${i + 1}`, h, M);
  h = e.conv('mask/upsample', h, M);
  h = g.node('DepthToSpace', [h], { blocksize: 2, mode: 'DCR' });
  h = g.node('Sigmoid', [e.conv('mask/logits', h, 2 * M, { act: 'linear' })]);
  g.output(g.node('Reshape', [h, g.int64s([-1, 2 * M, 2 * M])]), 'mask_probs', ['R', 2 * M, 2 * M]);
  return g;
}
