import { resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detection } from '../../../src/types/detection.js';
import type { Frame } from '../../../src/types/frame.js';
import { imagePath, readLabels } from '../../../src/model/dataset.js';
import { loadEngine, type LesionEngine } from '../../../src/model/engine.js';
import { startInferenceWorker } from '../../../src/model/inference_client.js';
import { HAVE_ISIC, ISIC_DIR, SKIP_ISIC_MESSAGE } from '../helpers.js';

const MODEL_DIR = resolve(__dirname, '../../../models/default');

function maskIoU(a: Detection['mask'], b: Detection['mask'], width: number, height: number): number {
  const fa = new Uint8Array(width * height);
  for (let y = 0; y < a.height; y++) for (let x = 0; x < a.width; x++) if (a.data[y * a.width + x]) fa[(a.y + y) * width + a.x + x] = 1;
  let inter = 0;
  let union = a.data.reduce((s, v) => s + v, 0);
  for (let y = 0; y < b.height; y++)
    for (let x = 0; x < b.width; x++) {
      if (!b.data[y * b.width + x]) continue;
      if (fa[(b.y + y) * width + b.x + x]) inter++;
      else union++;
    }
  return union === 0 ? 1 : inter / union;
}

/** A dark ellipse on skin tone: the network detects it, so boxes, masks and probabilities are all compared. */
function syntheticLesion(w: number, h: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const inside = ((x - w / 2) / (w / 4)) ** 2 + ((y - h / 2) / (h / 5)) ** 2 < 1;
      rgb.set(inside ? [90, 55, 40] : [215, 170, 150], (y * w + x) * 3);
    }
  return rgb;
}

/** Both engines' answers on one frame: same detections, probabilities within 1e-3, masks IoU ≥ 0.99. */
function expectSameAnswers(a: Detection[], b: Detection[], width: number, height: number): void {
  expect(b.length).toBe(a.length);
  a.forEach((d, i) => {
    const o = b[i];
    expect(Math.abs(d.score - o.score)).toBeLessThanOrEqual(1e-3);
    expect(Math.abs(d.probabilities.malignant - o.probabilities.malignant)).toBeLessThanOrEqual(1e-3);
    expect(Math.abs(d.probabilities.benign - o.probabilities.benign)).toBeLessThanOrEqual(1e-3);
    d.box.forEach((v, k) => expect(Math.abs(v - o.box[k])).toBeLessThan(0.5));
    expect(maskIoU(d.mask, o.mask, width, height)).toBeGreaterThanOrEqual(0.99);
  });
}

describe('ONNX Runtime engine on the shipped model', () => {
  let tfjs: LesionEngine;
  let onnx: LesionEngine;
  beforeAll(async () => {
    tfjs = await loadEngine(MODEL_DIR, { engine: 'tfjs', backend: 'wasm' });
    onnx = await loadEngine(MODEL_DIR, { engine: 'onnx', backend: 'wasm', onnx: { threads: 1 } });
  }, 60_000);
  afterAll(async () => {
    await tfjs?.dispose();
    await onnx?.dispose();
  });

  it('is what auto picks for the shipped model, and identifies itself with the same weights', async () => {
    expect(onnx.engine).toBe('onnx');
    expect(onnx.identity.backend).toBe('onnxruntime-cpu');
    expect(onnx.identity.sha256).toBe(tfjs.identity.sha256);
    const auto = await loadEngine(MODEL_DIR, { backend: 'wasm', onnx: { threads: 1 } });
    expect(auto.engine).toBe('onnx');
    await auto.dispose();
  });

  it('gives the same answers as tfjs on a synthetic lesion at two frame sizes', async () => {
    for (const [w, h] of [[320, 240], [200, 300]]) {
      const rgb = syntheticLesion(w, h);
      const a = await tfjs.inferRgb(rgb, w, h);
      const b = await onnx.inferRgb(rgb, w, h);
      expect(a.detections.length).toBeGreaterThan(0);
      expectSameAnswers(a.detections, b.detections, w, h);
    }
  });

  it('runs in the inference worker (the service path) with the same answers', async () => {
    const client = await startInferenceWorker(MODEL_DIR, 'wasm', { engine: 'onnx', onnx: { threads: 1 } });
    try {
      expect(client.engine).toBe('onnx');
      expect(client.identity.backend).toBe('onnxruntime-cpu');
      const w = 320;
      const h = 240;
      const rgb = syntheticLesion(w, h);
      const frame: Frame = { seq: 1, capturedAt: { monoMs: performance.now(), wallMs: Date.now() }, width: w, height: h, format: 'RGB', data: rgb, source: 'test' };
      const viaWorker = await client.infer(frame);
      const direct = await onnx.inferRgb(rgb, w, h);
      expect(direct.detections.length).toBeGreaterThan(0);
      expectSameAnswers(direct.detections, viaWorker.detections, w, h);
    } finally {
      await client.close();
    }
  }, 60_000);

  if (!HAVE_ISIC) console.warn(SKIP_ISIC_MESSAGE);
  it.skipIf(!HAVE_ISIC)('gives the same answers as tfjs on 12 ISIC training images', async () => {
    const rows = readLabels(ISIC_DIR).slice(0, 12);
    let compared = 0;
    for (const r of rows) {
      const { data, info } = await sharp(imagePath(ISIC_DIR, r.id)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const rgb = new Uint8Array(data);
      const a = await tfjs.inferRgb(rgb, info.width, info.height);
      const b = await onnx.inferRgb(rgb, info.width, info.height);
      expectSameAnswers(a.detections, b.detections, info.width, info.height);
      compared += a.detections.length;
    }
    expect(compared).toBeGreaterThan(6);
  }, 120_000);
});
