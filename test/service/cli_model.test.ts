/**
 * `dermstream quantize` writes the operating point where the model is made, and `dermstream eval` scores at it (or at
 * --threshold): as processes, on a tiny random network and a few ISIC images (the numbers are meaningless, the
 * bookkeeping is what is checked).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { summarizeFolds } from '../../src/model/cv_summary.js';
import { readLabels } from '../../src/model/dataset.js';
import { LesionNet } from '../../src/model/network.js';
import { loadModel, saveModel } from '../../src/model/weights_io.js';
import { HAVE_ISIC, ISIC_DIR, SKIP_ISIC_MESSAGE, TINY_CONFIG } from '../model/helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-cli-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/service/cli.ts'), ...args], { encoding: 'utf8', cwd: root, timeout: 240_000 });

if (!HAVE_ISIC) console.warn(SKIP_ISIC_MESSAGE);
describe.skipIf(!HAVE_ISIC)('the operating point is written where the model is made', () => {
  it('quantize --calibrate --target-sensitivity writes manifest.operatingPoint; eval scores at it, or at --threshold', async () => {
    await selectBackend('wasm');
    const float = path.join(dir, 'float');
    const net = new LesionNet(TINY_CONFIG).declare();
    await saveModel(net, float, { version: '0.0.1' });
    net.dispose();
    const rows = readLabels(ISIC_DIR);
    const ids = [...rows.filter((r) => r.malignant).slice(0, 3), ...rows.filter((r) => !r.malignant).slice(0, 5)].map((r) => r.id);
    const idsFile = path.join(dir, 'ids.json');
    writeFileSync(idsFile, JSON.stringify(ids));

    const out = path.join(dir, 'uint8');
    const q = cli(['quantize', '--model', float, '--out', out, '--dtype', 'uint8', '--backend', 'wasm', '--calibrate', '--target-sensitivity', '0.6', '--margin', '0.02', '--data', ISIC_DIR, '--ids', idsFile]);
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout).toMatch(/operating point: p\(malignant\) ≥ 0\.\d+ ± 0\.02: SE \d\.\d{3} SP \d\.\d{3}/);
    const op = loadModel(out).manifest.operatingPoint!;
    expect(op.margin).toBe(0.02);
    expect(Math.round(op.threshold * 100) / 100).toBe(op.threshold); // on the 0.01 grid
    expect(op.sensitivity).toBeGreaterThanOrEqual(0.6);
    expect(op.fittedOn).toContain(`8 images of ${ISIC_DIR} (${idsFile}); highest 0.01-grid threshold with SE ≥ 0.6`);
    expect(loadModel(out).manifest.metrics).toMatchObject({ evaluation: { classification: { threshold: op.threshold, thresholdSource: 'model', SE: op.sensitivity } } });
    // The weights' hashes still verify: manifest.json is not among the hashed files.
    expect(() => loadModel(out)).not.toThrow();

    const atModel = path.join(dir, 'eval-model.json');
    const e = cli(['eval', '--model', out, '--data', ISIC_DIR, '--ids', idsFile, '--backend', 'wasm', '--json', atModel]);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout).toContain(`(malignant ≥ ${op.threshold}: the model's operating point)`);
    const r = JSON.parse(readFileSync(atModel, 'utf8'));
    expect(r.classification).toMatchObject({ threshold: op.threshold, thresholdSource: 'model', SE: op.sensitivity, SP: op.specificity });

    const f = cli(['eval', '--model', out, '--data', ISIC_DIR, '--ids', idsFile, '--backend', 'wasm', '--threshold', '0.5']);
    expect(f.status, f.stderr).toBe(0);
    expect(f.stdout).toContain('(malignant ≥ 0.5: --threshold)');
    const bad = cli(['eval', '--model', out, '--data', ISIC_DIR, '--threshold', '1.5']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--threshold 1\.5: needs a number > 0 and < 1/);
  });
});

describe('quantize --cv-summary records the configuration\'s cross-validation in the manifest', () => {
  it('copies the per-fold scores and their summary, and refuses a file that is not a cv summary', async () => {
    await selectBackend('wasm');
    const float = path.join(dir, 'float-cv');
    const net = new LesionNet(TINY_CONFIG).declare();
    await saveModel(net, float, { version: '0.0.1' });
    net.dispose();
    const perFold = [1, 2].map((fold) => ({ fold, n: 400, JA: 0.8 + fold / 100, DI: 0.88, AUC: 0.77, AP: 0.43, shareBelow05: 0.04 }));
    const cvFile = path.join(dir, 'cv-summary.json');
    writeFileSync(cvFile, JSON.stringify({ folds: 'data-splits/x.json', config: 'tiny', perFold, summary: summarizeFolds(perFold) }));
    const out = path.join(dir, 'uint8-cv');
    const q = cli(['quantize', '--model', float, '--out', out, '--dtype', 'uint8', '--backend', 'wasm', '--cv-summary', cvFile]);
    expect(q.status, q.stderr).toBe(0);
    const cv = loadModel(out).manifest.metrics?.crossValidation as { config: string; perFold: unknown[]; summary: { metrics: { JA: { mean: number } } } };
    expect(cv.config).toBe('tiny');
    expect(cv.perFold).toHaveLength(2);
    expect(cv.summary.metrics.JA.mean).toBeCloseTo(0.815, 6);

    writeFileSync(cvFile, JSON.stringify({ JA: 0.8 }));
    const bad = cli(['quantize', '--model', float, '--out', path.join(dir, 'uint8-bad'), '--dtype', 'uint8', '--backend', 'wasm', '--cv-summary', cvFile]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain(`--cv-summary ${cvFile}: not a cv-summary.json from \`dermstream cv\``);
  });
});
