import { existsSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { imagePath, maskPath, readLabels, type LabelRow } from './dataset.js';
import { classificationScores, confusion, meanScores, segmentationScores, type ClassificationScores, type SegmentationScores } from './metrics.js';
import { unionMask } from './paste_mask.js';
import type { LesionEngine } from './engine.js';
import type { LesionModel } from './predictor.js';

export interface EvalReport {
  model: { name: string; version: string; sha256: string; quantization: string; backend: string };
  data: string;
  n: number;
  segmentation?: SegmentationScores & { n: number };
  classification: ClassificationScores;
  imagesPerSecond: number;
  /** Per-image malignant score and label (for calibration and ROC plots). */
  perImage: { ids: string[]; malignant: number[]; labels: number[] };
  /** Images scored at their own resolution, as ISIC does. */
  resolution: 'native';
}

/** Rows to score: all of labels.csv, or the ids listed in a JSON file (an array, or `{ "val": [...] }` from a training split). */
export function selectRows(dataDir: string, idsFile?: string): LabelRow[] {
  const rows = readLabels(dataDir);
  if (!idsFile) return rows;
  const raw = JSON.parse(readFileSync(idsFile, 'utf8')) as string[] | { val?: string[] };
  const ids = new Set(Array.isArray(raw) ? raw : (raw.val ?? []));
  const picked = rows.filter((r) => ids.has(r.id));
  if (picked.length === 0) throw new Error(`${idsFile} selects none of the images in ${dataDir}`);
  return picked;
}

/**
 * `dermstream eval`: runs the inference API on each image at its own size and scores as ISIC 2017 does.
 * The lesion mask is the union of the kept detections (none = empty mask); the malignant score is the
 * top detection's (none = 0).
 */
export async function evaluate(model: LesionModel | Pick<LesionEngine, 'inferRgb' | 'identity'>, dataDir: string, rows: LabelRow[], onProgress?: (done: number, total: number) => void): Promise<EvalReport> {
  const seg: SegmentationScores[] = [];
  const scores: number[] = [];
  const labels: number[] = [];
  const t0 = performance.now();
  let done = 0;
  for (const row of rows) {
    const { data, info } = await sharp(imagePath(dataDir, row.id)).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    const rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
    const { detections } = await model.inferRgb(rgb, info.width, info.height);
    scores.push(detections.length ? detections[0].probabilities.malignant : 0);
    labels.push(row.malignant);
    const mp = maskPath(dataDir, row.id);
    if (mp && existsSync(mp)) {
      const m = await sharp(mp).greyscale().raw().toBuffer({ resolveWithObject: true });
      if (m.info.width !== info.width || m.info.height !== info.height) {
        throw new Error(`mask of ${row.id} is ${m.info.width}×${m.info.height}, image is ${info.width}×${info.height}`);
      }
      const truth = new Uint8Array(m.data.length);
      for (let i = 0; i < truth.length; i++) truth[i] = m.data[i] >= 128 ? 1 : 0;
      seg.push(segmentationScores(confusion(unionMask(detections.map((d) => d.mask), info.width, info.height), truth)));
    }
    onProgress?.(++done, rows.length);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    model: model.identity,
    data: dataDir,
    n: rows.length,
    segmentation: seg.length ? { ...meanScores(seg), n: seg.length } : undefined,
    classification: classificationScores(scores, labels),
    imagesPerSecond: rows.length / seconds,
    perImage: { ids: rows.map((r) => r.id), malignant: scores, labels },
    resolution: 'native',
  };
}

export function formatReport(r: EvalReport): string {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');
  const lines = [`model ${r.model.name} ${r.model.version} (${r.model.quantization}, ${r.model.backend}, sha256 ${r.model.sha256.slice(0, 12)}…) on ${r.n} images of ${r.data}`];
  if (r.segmentation) {
    const s = r.segmentation;
    lines.push(`segmentation  JA ${f(s.JA)}  DI ${f(s.DI)}  AC ${f(s.AC)}  SE ${f(s.SE)}  SP ${f(s.SP)}  (n ${s.n})`);
  } else lines.push('segmentation  (no masks/ folder: classification only)');
  const c = r.classification;
  lines.push(`classification  AUC ${f(c.AUC)}  AP ${f(c.AP)}  AC ${f(c.AC)}  SE ${f(c.SE)}  SP ${f(c.SP)}  (malignant ≥ ${c.threshold})`);
  lines.push(`${r.imagesPerSecond.toFixed(2)} images/s`);
  return lines.join('\n');
}
