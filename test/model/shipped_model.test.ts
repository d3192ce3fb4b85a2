import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imagePath, maskPath, readLabels } from '../../src/model/dataset.js';
import { confusion, segmentationScores } from '../../src/model/metrics.js';
import { unionMask } from '../../src/model/paste_mask.js';
import { LesionModel } from '../../src/model/predictor.js';
import { HAVE_ISIC, ISIC_DIR, SKIP_ISIC_MESSAGE } from './helpers.js';

const MODEL_DIR = resolve(__dirname, '../../models/default');

describe('the shipped default model', () => {
  let model: LesionModel;
  beforeAll(async () => {
    model = await LesionModel.load(MODEL_DIR, 'wasm');
  });
  afterAll(() => model?.dispose());

  it('is in the repository, verified, quantized and identifies itself', () => {
    expect(existsSync(join(MODEL_DIR, 'manifest.json'))).toBe(true);
    expect(model.identity.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(['uint8', 'float16']).toContain(model.identity.quantization);
    // A `train` run or a `cv` fold: either way the command that made the weights, replayable.
    expect(model.manifest.training?.command).toMatch(/dermstream (train|cv) .*--data /);
    expect(model.manifest.metrics).toBeDefined();
  });

  if (!HAVE_ISIC) console.warn(SKIP_ISIC_MESSAGE);
  it.skipIf(!HAVE_ISIC)('segments training images: predicted masks overlap the ground truth', async () => {
    // Ten full-resolution images of the training split (not held out: this checks the pipeline end to end).
    const rows = readLabels(ISIC_DIR).filter((r) => r.resolution === 'full').slice(0, 10);
    const ja: number[] = [];
    for (const r of rows) {
      const { data, info } = await sharp(imagePath(ISIC_DIR, r.id)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const { detections } = model.inferRgb(new Uint8Array(data), info.width, info.height);
      const m = await sharp(maskPath(ISIC_DIR, r.id) as string).greyscale().raw().toBuffer();
      const truth = Uint8Array.from(m, (v) => (v >= 128 ? 1 : 0));
      ja.push(segmentationScores(confusion(unionMask(detections.map((d) => d.mask), info.width, info.height), truth)).JA);
    }
    const mean = ja.reduce((a, b) => a + b) / ja.length;
    expect(mean).toBeGreaterThan(0.5);
    expect(ja.filter((v) => v > 0.3).length).toBeGreaterThanOrEqual(7);
  });
});
