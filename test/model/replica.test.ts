import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { normalizeLetterboxed } from '../../src/model/letterbox.js';
import { LesionNet } from '../../src/model/network.js';
import { computeGradients } from '../../src/model/optimizer_step.js';
import { startReplica, type Replica } from '../../src/model/replica.js';
import { rng } from '../../src/model/targets.js';
import type { TrainSample } from '../../src/model/train_step.js';
import { TINY_CONFIG } from './helpers.js';

function disc(s: number, cx: number, cy: number, r: number, label: 0 | 1): TrainSample {
  const image = new Uint8Array(s * s * 3);
  const mask = new Uint8Array(s * s);
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      mask[y * s + x] = inside ? 1 : 0;
      image.set(inside ? [80, 50, 40] : [210, 170, 150], (y * s + x) * 3);
    }
  }
  return { image, mask, box: new Float32Array([cx - r, cy - r, cx + r, cy + r]), label };
}

describe('data-parallel training replica', () => {
  let replica: Replica;
  beforeAll(async () => {
    await selectBackend('wasm');
    replica = await startReplica(TINY_CONFIG, 'wasm');
  });
  afterAll(async () => replica?.close());

  it('computes on its thread exactly the gradients this thread computes for the same half-batch', async () => {
    const net = new LesionNet(TINY_CONFIG).declare();
    const s = TINY_CONFIG.inputSize;
    const half = [disc(s, 30, 28, 14, 1), disc(s, 36, 40, 18, 0)];
    const remote = await replica.step(net, half, 42);
    const batch = new Uint8Array(2 * s * s * 3);
    half.forEach((h, i) => batch.set(h.image, i * s * s * 3));
    const x = normalizeLetterboxed(batch, 2, s, TINY_CONFIG.channelMeans);
    const local = computeGradients(net, x, half, rng(42));
    expect(remote.grads.length).toBe(local.grads.length);
    let worst = 0;
    local.grads.forEach((g, i) => {
      const d = g.dataSync();
      for (let k = 0; k < d.length; k++) worst = Math.max(worst, Math.abs(d[k] - remote.grads[i][k]));
    });
    expect(worst).toBeLessThan(1e-4);
    expect(remote.parts.total).toBeCloseTo(local.parts.total, 4);
    expect(remote.bn.map((b) => b.name)).toEqual(local.bn.map((b) => b.name));
    local.grads.forEach((g) => g.dispose());
    x.dispose();
    net.dispose();
    void tf;
  });
});
