import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../src/model/backend.js';
import { foldBatchNorms } from '../../../src/model/layers.js';
import { LesionNet } from '../../../src/model/network.js';
import { exportOnnx } from '../../../src/model/onnx/export.js';
import { loadModel, ModelLoadError, saveModel } from '../../../src/model/weights_io.js';
import type { ModelConfig } from '../../../src/model/config.js';
import { TINY_CONFIG } from '../helpers.js';

/** Batch-norm statistics far from the identity, so a wrong fold or layout shows in the outputs. */
function perturbStats(net: LesionNet): void {
  let seed = 11;
  for (const [name, v] of net.params.all()) {
    if (/\/bn\/(mean|variance|gamma|beta)$/.test(name)) {
      const lo = name.endsWith('variance') || name.endsWith('gamma') ? 0.5 : -0.3;
      v.assign(tf.randomUniform(v.shape, lo, lo + 1, 'float32', seed++));
    }
  }
}

// MobileNetV2 random-initialised (nsfwjs's weights are not needed to check the graph), full width at 64 px.
const TINY_MNV2: ModelConfig = { ...TINY_CONFIG, name: 'tiny-mnv2', backbone: { type: 'mobilenetv2', trainFromBlock: 3, pretrained: false } };

describe.each([
  ['ResNet', TINY_CONFIG],
  ['MobileNetV2', TINY_MNV2],
])('ONNX export of the network (%s)', (_name, config) => {
  const root = mkdtempSync(join(tmpdir(), 'dermstream-onnx-'));
  const dir = join(root, 'tiny');

  beforeAll(async () => {
    await selectBackend('wasm');
    const net = new LesionNet(config).declare();
    perturbStats(net);
    await saveModel(net, dir, { version: '0.0.1', quantization: 'uint8' });
    net.dispose();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes three graphs into the model folder and hashes them in manifest.json', () => {
    const { manifest } = exportOnnx(dir);
    expect(manifest.onnx).toMatchObject({ dense: 'lesionnet.onnx', boxHead: 'lesionnet.box_head.onnx', maskHead: 'lesionnet.mask_head.onnx', weightsSha256: manifest.weightsSha256 });
    expect(manifest.onnx?.opset).toBeGreaterThanOrEqual(16);
    const paths = manifest.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['model.json', 'lesionnet.onnx', 'lesionnet.box_head.onnx', 'lesionnet.mask_head.onnx']));
    // Exporting again replaces the entries instead of listing the files twice.
    expect(exportOnnx(dir).manifest.files.length).toBe(paths.length);
    // The loader verifies the graphs like the weight shards.
    expect(() => loadModel(dir).net.dispose()).not.toThrow();
    const onDisk = join(dir, 'lesionnet.mask_head.onnx');
    const saved = readFileSync(onDisk);
    writeFileSync(onDisk, Buffer.concat([saved, Buffer.from([0])]));
    expect(() => loadModel(dir)).toThrow(ModelLoadError);
    writeFileSync(onDisk, saved);
  });

  it('refuses an --out outside the model folder or without .onnx', () => {
    expect(() => exportOnnx(dir, join(root, 'elsewhere.onnx'))).toThrow(/outside the model folder/);
    expect(() => exportOnnx(dir, join(dir, 'net.pb'))).toThrow(/must end in .onnx/);
  });

  it('the dense graph computes what the tfjs network computes (features, RPN), at the trained and another input size', async () => {
    exportOnnx(dir);
    const { net } = loadModel(dir);
    foldBatchNorms(net.params);
    const session = await ort.InferenceSession.create(join(dir, 'lesionnet.onnx'), { intraOpNumThreads: 1 });
    for (const s of [64, 96]) {
      const x = tf.randomUniform([1, s, s, 3], -1, 1, 'float32', s) as tf.Tensor4D;
      const sized = new LesionNet({ ...config, inputSize: s }, net.params);
      const want = tf.tidy(() => {
        const levels = sized.features(x, { training: false });
        const rpn = sized.rpn(levels, { training: false });
        return [...levels.map((l) => l.dataSync()), rpn.logits.dataSync(), rpn.deltas.dataSync()];
      });
      const out = await session.run({ image: new ort.Tensor('float32', x.dataSync() as Float32Array, [1, s, s, 3]) });
      const got = ['p2', 'p3', 'p4', 'p5', 'rpn_logits', 'rpn_deltas'].map((k) => out[k].data as Float32Array);
      got.forEach((g, i) => {
        expect(g.length).toBe(want[i].length);
        let maxDiff = 0;
        let scale = 0;
        for (let k = 0; k < g.length; k++) {
          maxDiff = Math.max(maxDiff, Math.abs(g[k] - want[i][k]));
          scale = Math.max(scale, Math.abs(want[i][k]));
        }
        expect(scale).toBeGreaterThan(0);
        expect(maxDiff / scale).toBeLessThan(1e-4);
      });
      x.dispose();
    }
    await session.release();
    net.dispose();
  });
});
