import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { MOBILENET_CONFIG } from '../../src/model/config.js';
import { INPUT_SCALE } from '../../src/model/letterbox.js';
import { foldBatchNorms } from '../../src/model/layers.js';
import { mobileNetV2 } from '../../src/model/mobilenet_v2.js';
import { LesionNet } from '../../src/model/network.js';
import { selectBackend } from '../../src/model/backend.js';
import { nsfwjsMobileNetV2Files } from '../../src/model/nsfwjs_mobilenet.js';
import { maskBox } from '../../src/model/augment.js';
import { normalizeLetterboxed } from '../../src/model/letterbox.js';
import { computeGradients } from '../../src/model/optimizer_step.js';
import { rng } from '../../src/model/targets.js';
import { TINY_CONFIG } from './helpers.js';

/** nsfwjs's own layers model, loaded as nsfwjs does (model JSON + decoded shard through an IOHandler). */
async function kerasModel(): Promise<tf.LayersModel> {
  const f = nsfwjsMobileNetV2Files();
  const data = f.weights.buffer.slice(f.weights.byteOffset, f.weights.byteOffset + f.weights.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: f.modelTopology as tf.io.ModelJSON['modelTopology'], weightSpecs: f.weightsManifest[0].weights, weightData: data }));
}

describe('MobileNetV2 backbone (nsfwjs weights)', () => {
  it('reproduces the Keras model at its taps, before and after folding batch norm', async () => {
    await selectBackend('wasm');
    const keras = await kerasModel();
    const taps = ['block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu', 'out_relu'];
    const sub = tf.model({ inputs: keras.inputs, outputs: taps.map((t) => keras.getLayer(t).output as tf.SymbolicTensor) });
    const rgb = tf.randomUniform([1, 224, 224, 3], 0, 255, 'float32', 7);
    const want = sub.predict(tf.div(rgb, 255)) as tf.Tensor[];
    const net = new LesionNet({ ...MOBILENET_CONFIG, inputSize: 224 }).declare();
    const means = MOBILENET_CONFIG.channelMeans;
    const x = tf.mul(tf.sub(rgb, tf.tensor1d(means)), INPUT_SCALE) as tf.Tensor4D;
    const check = (got: tf.Tensor[]) =>
      got.forEach((g, i) => {
        expect(g.shape).toEqual(want[i].shape);
        const err = tf.max(tf.abs(tf.sub(g, want[i]))).dataSync()[0];
        const scale = tf.max(tf.abs(want[i])).dataSync()[0];
        expect(err / scale).toBeLessThan(1e-3);
      });
    check(mobileNetV2(net.params, { training: true }, means, x));
    foldBatchNorms(net.params);
    check(mobileNetV2(net.params, { training: false }, means, x));
    expect(net.params.has('backbone/block_3_expand/kernel')).toBe(true);
    net.dispose();
  }, 60000);

  it('trains on wasm: finite gradients for every trainable weight, none for the frozen ones', () => {
    const cfg = { ...TINY_CONFIG, backbone: { type: 'mobilenetv2' as const, trainFromBlock: 3, pretrained: true } };
    const net = new LesionNet(cfg).declare();
    const s = cfg.inputSize;
    const mask = new Uint8Array(s * s);
    for (let y = 16; y < 44; y++) for (let x = 20; x < 48; x++) mask[y * s + x] = 1;
    const image = new Uint8Array(s * s * 3).map((_, i) => (mask[Math.floor(i / 3)] ? 90 : 200) + (i % 7));
    const samples = [0, 1].map((label) => ({ image, mask, box: maskBox(mask, s, s), label: label as 0 | 1 }));
    const x = normalizeLetterboxed(new Uint8Array([...image, ...image]), 2, s, cfg.channelMeans);
    const g = computeGradients(net, x, samples, rng(1));
    const names = net.params.trainableSorted().map(([n]) => n);
    expect(g.grads.length).toBe(names.length);
    expect(names).not.toContain('backbone/block_1_expand/kernel');
    const norm = (n: string) => tf.tidy(() => tf.sum(tf.square(g.grads[names.indexOf(n)])).dataSync()[0]);
    expect(Number.isFinite(g.parts.total)).toBe(true);
    expect(norm('backbone/block_3_depthwise/depthwise_kernel')).toBeGreaterThan(0);
    expect(norm('backbone/Conv_1/kernel')).toBeGreaterThan(0);
    for (const t of g.grads) expect(Number.isFinite(tf.tidy(() => tf.sum(t).dataSync()[0]))).toBe(true);
    g.grads.forEach((t) => t.dispose());
    x.dispose();
    net.dispose();
  }, 120000);

  it('keeps the stem and blocks before trainFromBlock out of the optimizer', () => {
    const net = new LesionNet({ ...MOBILENET_CONFIG, backbone: { type: 'mobilenetv2', trainFromBlock: 3, pretrained: false } }).declare();
    const trainable = [...net.params.trainable.keys()];
    expect(trainable).not.toContain('backbone/Conv1/kernel');
    expect(trainable).not.toContain('backbone/block_2_expand/kernel');
    expect(trainable).toContain('backbone/block_3_expand/kernel');
    expect(net.params.has('backbone/block_2_expand/kernel')).toBe(true);
    net.dispose();
  });
});
