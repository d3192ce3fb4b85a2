import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, formatReport, selectRows } from '../../src/model/evaluate.js';
import { sensitivitySpecificity } from '../../src/model/operating_point.js';
import { LesionModel } from '../../src/model/predictor.js';
import { HAVE_ISIC, ISIC_DIR, SKIP_ISIC_MESSAGE } from './helpers.js';

const MODEL_DIR = resolve(__dirname, '../../models/default');

if (!HAVE_ISIC) console.warn(SKIP_ISIC_MESSAGE);
describe.skipIf(!HAVE_ISIC)('eval scores classification at the model’s operating point', () => {
  let model: LesionModel;
  beforeAll(async () => {
    model = await LesionModel.load(MODEL_DIR, 'wasm');
  });
  afterAll(() => model?.dispose());

  it('AC/SE/SP at the manifest’s threshold by default, at --threshold when given, AUC either way', async () => {
    // 24 images of the shipped model's own validation split, melanomas among them.
    const rows = selectRows(ISIC_DIR, resolve(MODEL_DIR, 'validation-split.json'));
    const picked = [...rows.filter((r) => r.malignant).slice(0, 8), ...rows.filter((r) => !r.malignant).slice(0, 16)];
    const atModel = await evaluate(model, ISIC_DIR, picked);
    expect(atModel.classification.threshold).toBe(model.manifest.operatingPoint!.threshold);
    expect(atModel.classification.thresholdSource).toBe('model');
    const { malignant, labels } = atModel.perImage;
    const at = model.manifest.operatingPoint!.threshold;
    const expected = sensitivitySpecificity(malignant, labels, at);
    expect(atModel.classification.SE).toBe(expected.sensitivity);
    expect(atModel.classification.SP).toBe(expected.specificity);
    expect(formatReport(atModel)).toContain(`(malignant ≥ ${at}: the model's operating point)`);

    const at05 = await evaluate(model, ISIC_DIR, picked, undefined, 0.5);
    expect(at05.classification).toMatchObject({ threshold: 0.5, thresholdSource: 'flag', AUC: atModel.classification.AUC });
    expect(at05.classification.SE).toBe(sensitivitySpecificity(malignant, labels, 0.5).sensitivity);
    // Calibrated scores: fewer melanomas reach 0.5 than the operating point.
    expect(at05.classification.SE).toBeLessThan(atModel.classification.SE);
  });
});
