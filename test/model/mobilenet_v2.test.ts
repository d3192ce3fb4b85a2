import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { MOBILENET_CONFIG } from '../../src/model/config.js';
import { INPUT_SCALE } from '../../src/model/letterbox.js';
import { foldBatchNorms } from '../../src/model/layers.js';
import { mobileNetV2 } from '../../src/model/mobilenet_v2.js';
import { LesionNet } from '../../src/model/network.js';
import { selectBackend } from '../../src/model/backend.js';
import { nsfwjsMobileNetV2Files } from '../../src/model/nsfwjs_mobilenet.js';

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
