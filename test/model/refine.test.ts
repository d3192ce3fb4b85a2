import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { LesionNet } from '../../src/model/network.js';
import { LesionModel } from '../../src/model/predictor.js';
import { cropRgb, refineCrop } from '../../src/model/refine.js';
import { saveModel } from '../../src/model/weights_io.js';
import { TINY_CONFIG } from './helpers.js';

describe('refineCrop', () => {
  it('is a square around the box with the margin, inside the frame', () => {
    const c = refineCrop([100, 100, 140, 120], 640, 480, 0.25);
    expect(c.x1 - c.x0).toBe(60);
    expect(c.y1 - c.y0).toBe(60);
    expect(c.x0).toBeLessThanOrEqual(100);
    expect(c.x1).toBeGreaterThanOrEqual(140);
    expect(c.y0).toBeLessThanOrEqual(100);
    expect(c.y1).toBeGreaterThanOrEqual(120);
  });

  it('slides inward at a frame edge instead of shrinking', () => {
    const c = refineCrop([0, 0, 40, 40], 640, 480, 0.5);
    expect(c).toEqual({ x0: 0, y0: 0, x1: 80, y1: 80 });
    const d = refineCrop([600, 440, 640, 480], 640, 480, 0.5);
    expect(d).toEqual({ x0: 560, y0: 400, x1: 640, y1: 480 });
  });

  it('clips to the frame when the window is larger than it', () => {
    expect(refineCrop([10, 10, 630, 470], 640, 480, 0.25)).toEqual({ x0: 0, y0: 0, x1: 640, y1: 480 });
  });

  it('cropRgb copies the rows of the window', () => {
    const rgb = new Uint8Array(4 * 3 * 3).map((_, i) => i);
    const out = cropRgb(rgb, 4, { x0: 1, y0: 1, x1: 3, y1: 3 });
    expect([...out]).toEqual([15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32]);
  });
});

describe('coarse-to-fine inference', () => {
  const root = mkdtempSync(join(tmpdir(), 'dermstream-refine-'));
  let plain: LesionModel;
  let refined: LesionModel;
  let redetect: LesionModel;
  let flipped: LesionModel;
  const w = 317;
  const h = 211;
  const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 251);
  beforeAll(async () => {
    await selectBackend('wasm');
    const net = new LesionNet(TINY_CONFIG).declare();
    await saveModel(net, root, { version: '0.0.1' });
    net.dispose();
    plain = await LesionModel.load(root, 'wasm');
    refined = await LesionModel.load(root, 'wasm', undefined, { refine: { enabled: true, margin: 0.25, classify: 'crop', mode: 'box' } });
    redetect = await LesionModel.load(root, 'wasm', undefined, { refine: { enabled: true, margin: 0.25, classify: 'crop', mode: 'redetect' } });
    flipped = await LesionModel.load(root, 'wasm', undefined, { refine: { enabled: true, margin: 0.25, classify: 'crop', mode: 'box', flip: true } });
  });
  afterAll(() => {
    plain.dispose();
    refined.dispose();
    redetect.dispose();
    flipped.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps boxes and masks in frame pixels, inside the frame', () => {
    const r = refined.inferRgb(rgb, w, h);
    expect(r.detections.length).toBeGreaterThan(0);
    for (const d of r.detections) {
      expect(d.box[0]).toBeGreaterThanOrEqual(0);
      expect(d.box[2]).toBeLessThanOrEqual(w);
      expect(d.box[3]).toBeLessThanOrEqual(h);
      expect(d.mask.x).toBeGreaterThanOrEqual(0);
      expect(d.mask.x + d.mask.width).toBeLessThanOrEqual(w);
      expect(d.mask.y + d.mask.height).toBeLessThanOrEqual(h);
      expect(d.mask.data.length).toBe(d.mask.width * d.mask.height);
      expect(d.probabilities.benign + d.probabilities.malignant).toBeCloseTo(1, 5);
    }
  });

  it('box mode keeps the coarse box and recomputes the mask from the crop', () => {
    const a = plain.inferRgb(rgb, w, h).detections[0];
    const b = refined.inferRgb(rgb, w, h).detections[0];
    for (let i = 0; i < 4; i++) expect(b.box[i]).toBeCloseTo(a.box[i], 3);
    expect(b.score).toBe(a.score);
    expect(b.probabilities.malignant).not.toBe(a.probabilities.malignant);
    // Same box, so the pasted mask covers the same frame pixels (its values come from the crop).
    expect([b.mask.x, b.mask.y, b.mask.width, b.mask.height]).toEqual([a.mask.x, a.mask.y, a.mask.width, a.mask.height]);
  });

  it('flip TTA keeps the box and averages in a mirrored pass (a different score from one pass)', () => {
    const a = refined.inferRgb(rgb, w, h).detections[0];
    const b = flipped.inferRgb(rgb, w, h).detections[0];
    for (let i = 0; i < 4; i++) expect(b.box[i]).toBeCloseTo(a.box[i], 3);
    expect(b.probabilities.malignant).not.toBe(a.probabilities.malignant);
    expect(b.mask.data.length).toBe(b.mask.width * b.mask.height);
  });

  it('redetect mode replaces the coarse detection with the crop’s own', () => {
    const a = plain.inferRgb(rgb, w, h).detections[0];
    const b = redetect.inferRgb(rgb, w, h).detections[0];
    expect(a.box).not.toEqual(b.box);
    expect(b.mask.x + b.mask.width).toBeLessThanOrEqual(w);
  });

  it('frees its tensors: the count after 50 refined inferences equals the count after 1', () => {
    refined.inferRgb(rgb, w, h);
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) refined.inferRgb(rgb, w, h);
    expect(tf.memory().numTensors).toBe(after1);
    for (let i = 0; i < 20; i++) redetect.inferRgb(rgb, w, h);
    expect(tf.memory().numTensors).toBe(after1);
    for (let i = 0; i < 20; i++) flipped.inferRgb(rgb, w, h);
    expect(tf.memory().numTensors).toBe(after1);
  });
});
