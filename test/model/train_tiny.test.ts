import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { maskBox } from '../../src/model/augment.js';
import { selectBackend } from '../../src/model/backend.js';
import { loadLetterboxed, readLabels } from '../../src/model/dataset.js';
import { normalizeLetterboxed } from '../../src/model/letterbox.js';
import { LesionNet } from '../../src/model/network.js';
import { trainStep } from '../../src/model/optimizer_step.js';
import { rng } from '../../src/model/targets.js';
import type { TrainSample } from '../../src/model/train_step.js';
import { HAVE_ISIC, ISIC_DIR, SKIP_ISIC_MESSAGE, TINY_CONFIG } from './helpers.js';

if (!HAVE_ISIC) console.warn(SKIP_ISIC_MESSAGE);

describe.skipIf(!HAVE_ISIC)('training on a few ISIC images', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('lowers the multi-task loss on wasm (conv filter gradients without Conv2DBackpropFilter)', async () => {
    const rows = readLabels(ISIC_DIR).slice(0, 6);
    const set = await loadLetterboxed(ISIC_DIR, rows, TINY_CONFIG.inputSize);
    const s = TINY_CONFIG.inputSize;
    const samples: TrainSample[] = rows.map((r, i) => {
      const mask = set.masks.slice(i * s * s, (i + 1) * s * s);
      return { image: set.images.slice(i * s * s * 3, (i + 1) * s * s * 3), mask, box: maskBox(mask, s, s), label: r.malignant };
    });
    expect(samples.every((x) => x.box)).toBe(true);
    const net = new LesionNet(TINY_CONFIG).declare();
    const opt = tf.train.adam(3e-3);
    const x = normalizeLetterboxed(set.images, rows.length, s, TINY_CONFIG.channelMeans);
    const losses: number[] = [];
    const rand = rng(1);
    for (let step = 0; step < 25; step++) losses.push(trainStep(net, opt, x, samples, rand).parts.total);
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(last).toBeLessThan(first * 0.8);
    x.dispose();
    net.dispose();
  });
});
