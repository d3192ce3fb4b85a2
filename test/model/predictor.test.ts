import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { startInferenceWorker } from '../../src/model/inference_client.js';
import { LesionNet } from '../../src/model/network.js';
import { LesionModel } from '../../src/model/predictor.js';
import { saveModel } from '../../src/model/weights_io.js';
import type { Frame } from '../../src/types/frame.js';
import { TINY_CONFIG } from './helpers.js';

function frame(width: number, height: number, seq = 0): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
  return { seq, capturedAt: { monoMs: performance.now(), wallMs: Date.now() }, width, height, format: 'RGB', data, source: 'test' };
}

describe('inference API', () => {
  const root = mkdtempSync(join(tmpdir(), 'dermstream-pred-'));
  let model: LesionModel;
  beforeAll(async () => {
    await selectBackend('wasm');
    const net = new LesionNet(TINY_CONFIG).declare();
    await saveModel(net, root, { version: '0.0.1' });
    net.dispose();
    model = await LesionModel.load(root, 'wasm');
  });
  afterAll(() => {
    model.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('returns detections in the frame’s pixel coordinates, whatever its size', () => {
    for (const [w, h] of [[300, 200], [97, 211], [640, 480]]) {
      const r = model.infer(frame(w, h));
      expect(r.frame.width).toBe(w);
      expect(r.detections.length).toBeGreaterThan(0);
      for (const d of r.detections) {
        expect(d.box[0]).toBeGreaterThanOrEqual(0);
        expect(d.box[2]).toBeLessThanOrEqual(w);
        expect(d.box[3]).toBeLessThanOrEqual(h);
        expect(d.mask.x + d.mask.width).toBeLessThanOrEqual(w);
        expect(d.mask.data.length).toBe(d.mask.width * d.mask.height);
        expect(d.probabilities.benign + d.probabilities.malignant).toBeCloseTo(1, 5);
      }
      expect(r.timings.inferMs).toBeGreaterThan(0);
    }
  });

  it('frees its tensors: the count after 100 inferences equals the count after 1', () => {
    const f = frame(320, 240);
    model.infer(f);
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) model.infer(f);
    expect(tf.memory().numTensors).toBe(after1);
  });

  it('rejects a malformed frame with a clear error', () => {
    const f = frame(10, 10);
    expect(() => model.infer({ ...f, data: f.data.subarray(0, 50) })).toThrow(/expected 10×10×3/);
  });

  it('runs in a worker thread with the same results', async () => {
    const client = await startInferenceWorker(root, 'wasm');
    try {
      expect(client.identity.backend).toBe('wasm');
      expect(client.identity.sha256).toBe(model.identity.sha256);
      const f = frame(200, 150, 7);
      const [a, b] = await Promise.all([client.infer(f), Promise.resolve(model.infer(f))]);
      expect(a.frame.seq).toBe(7);
      expect(a.detections.length).toBe(b.detections.length);
      expect(a.detections[0].box[0]).toBeCloseTo(b.detections[0].box[0], 3);
      expect(a.detections[0].mask.data).toBeInstanceOf(Uint8Array);
    } finally {
      await client.close();
    }
    await expect(client.infer(frame(8, 8))).rejects.toThrow(/closed/);
  });

  it('refuses to start a worker on a missing model, saying why', async () => {
    await expect(startInferenceWorker(join(root, 'missing'), 'wasm')).rejects.toThrow(/model manifest not found/);
  });
});
