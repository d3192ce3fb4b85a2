import { existsSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { imagePath, maskPath, readLabels, type LabelRow } from './dataset.js';
import { classificationScores, confusion, meanScores, segmentationScores, type ClassificationScores, type SegmentationScores } from './metrics.js';
import { unionMask } from './paste_mask.js';
import { failureReport, formatFailureReport, type FailureReport, type ImageOutcome } from './failure_report.js';
import type { LesionEngine } from './engine.js';
import type { LesionModel } from './predictor.js';

/** Where the classification threshold came from: the model's manifest, `--threshold`, or neither (0.5). */
export type ThresholdSource = 'model' | 'flag' | 'none';

export interface EvalReport {
  model: { name: string; version: string; sha256: string; quantization: string; backend: string };
  data: string;
  n: number;
  segmentation?: SegmentationScores & { n: number };
  /** AC/SE/SP at `classification.threshold`: the model's operating point unless another was asked for. */
  classification: ClassificationScores & { thresholdSource: ThresholdSource };
  imagesPerSecond: number;
  /**
   * Per-image malignant score and label (for calibration and ROC plots); with masks, each image's JA,
   * its lesion's area fraction and its labels.csv resolution (for the failure report).
   */
  perImage: { ids: string[]; malignant: number[]; labels: number[]; JA?: number[]; lesionFraction?: number[]; resolution?: Array<string | null> };
  /** Share below JA 0.5, the worst ten, by lesion size and resolution (images with masks). */
  failures?: FailureReport;
  /** Images scored at their own resolution, as ISIC does. */
  resolution: 'native';
}

/** Rows to score: all of labels.csv, or the ids listed in a JSON file (an array, or `{ "val": [...] }` from a training split). */
export function selectRows(dataDir: string, idsFile?: string, fold?: number): LabelRow[] {
  const rows = readLabels(dataDir);
  if (!idsFile) return rows;
  const raw = JSON.parse(readFileSync(idsFile, 'utf8')) as string[] | { val?: string[]; folds?: string[][] };
  if (!Array.isArray(raw) && raw.folds && fold === undefined) throw new Error(`${idsFile} is a fold file: say which fold to score with --fold <n> (1–${raw.folds.length})`);
  const listed = Array.isArray(raw) ? raw : fold !== undefined ? raw.folds?.[fold - 1] : raw.val;
  if (!listed) throw new Error(`${idsFile} has no ${fold !== undefined ? `fold ${fold}` : '"val" list'}`);
  const ids = new Set(listed);
  const picked = rows.filter((r) => ids.has(r.id));
  if (picked.length === 0) throw new Error(`${idsFile} selects none of the images in ${dataDir}`);
  return picked;
}

/**
 * `dermstream eval`: runs the inference API on each image at its own size and scores as ISIC 2017 does.
 * The lesion mask is the union of the kept detections (none = empty mask); the malignant score is the
 * top detection's (none = 0).
 */
export async function evaluate(
  model: LesionModel | Pick<LesionEngine, 'inferRgb' | 'identity' | 'manifest'>,
  dataDir: string,
  rows: LabelRow[],
  onProgress?: (done: number, total: number) => void,
  threshold?: number,
): Promise<EvalReport> {
  const op = model.manifest.operatingPoint;
  const at = threshold ?? op?.threshold ?? 0.5;
  const thresholdSource: ThresholdSource = threshold !== undefined ? 'flag' : op ? 'model' : 'none';
  const seg: SegmentationScores[] = [];
  const scores: number[] = [];
  const labels: number[] = [];
  const outcomes: ImageOutcome[] = [];
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
      const scored = segmentationScores(confusion(unionMask(detections.map((d) => d.mask), info.width, info.height), truth));
      seg.push(scored);
      let area = 0;
      for (let i = 0; i < truth.length; i++) area += truth[i];
      outcomes.push({ id: row.id, JA: scored.JA, lesionFraction: area / truth.length, resolution: row.resolution, malignant: scores[scores.length - 1], label: row.malignant });
    }
    onProgress?.(++done, rows.length);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    model: model.identity,
    data: dataDir,
    n: rows.length,
    segmentation: seg.length ? { ...meanScores(seg), n: seg.length } : undefined,
    classification: { ...classificationScores(scores, labels, at), thresholdSource },
    imagesPerSecond: rows.length / seconds,
    perImage: {
      ids: rows.map((r) => r.id),
      malignant: scores,
      labels,
      ...(outcomes.length === rows.length && { JA: outcomes.map((o) => o.JA), lesionFraction: outcomes.map((o) => o.lesionFraction), resolution: outcomes.map((o) => o.resolution ?? null) }),
    },
    ...(outcomes.length > 0 && { failures: failureReport(outcomes) }),
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
  const why = { model: "the model's operating point", flag: '--threshold', none: 'the model declares no operating point' }[c.thresholdSource];
  lines.push(`classification  AUC ${f(c.AUC)}  AP ${f(c.AP)}  AC ${f(c.AC)}  SE ${f(c.SE)}  SP ${f(c.SP)}  (malignant ≥ ${c.threshold}: ${why})`);
  if (r.failures) lines.push(formatFailureReport(r.failures));
  lines.push(`${r.imagesPerSecond.toFixed(2)} images/s`);
  return lines.join('\n');
}
