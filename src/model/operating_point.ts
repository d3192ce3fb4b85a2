/**
 * The operating point of a model: the calibrated p(malignant) at which a frame votes malignant, the margin around it
 * that votes "uncertain", and the sensitivity/specificity that threshold gave on the validation split. It belongs to
 * the model (a threshold only means something for the calibration it was fitted to: 0.5 flags 8 % of melanomas with
 * the shipped model, 0.15 flags 76 %), so it is written into the model's manifest where the model is made
 * (`dermstream quantize --calibrate`) and read from there by `run` and `eval`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface OperatingPoint {
  /** p(malignant) ≥ threshold votes malignant (calibrated probability). */
  threshold: number;
  /** Within ± margin of the threshold a frame votes "uncertain". */
  margin: number;
  /** SE and SP of `p ≥ threshold` on the split named by `fittedOn`. */
  sensitivity: number;
  specificity: number;
  fittedOn: string;
}

/** A manifest's `operatingPoint` that cannot be used, with the fix. */
export class OperatingPointError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message}\n  fix: ${hint}`);
    this.name = 'OperatingPointError';
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const REFIT = 're-ship the model with `dermstream quantize --calibrate --data … --ids … --target-sensitivity 0.75` (scripts/ship_model.sh), or set pipeline.debounce.malignantThreshold and uncertainMargin explicitly';

/** Checks a manifest's `operatingPoint` (`where` names the file in the error). */
export function parseOperatingPoint(v: unknown, where: string): OperatingPoint {
  const o = v as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new OperatingPointError(`${where}: operatingPoint is not an object`, REFIT);
  const bad: string[] = [];
  if (!(isNum(o.threshold) && o.threshold > 0 && o.threshold < 1)) bad.push(`threshold ${JSON.stringify(o.threshold)} (needs 0 < threshold < 1)`);
  if (!(isNum(o.margin) && o.margin >= 0 && o.margin < 0.5)) bad.push(`margin ${JSON.stringify(o.margin)} (needs 0 ≤ margin < 0.5)`);
  for (const k of ['sensitivity', 'specificity'] as const) {
    const x = o[k];
    if (!(isNum(x) && x >= 0 && x <= 1)) bad.push(`${k} ${JSON.stringify(x)} (needs a number in [0, 1])`);
  }
  if (typeof o.fittedOn !== 'string' || o.fittedOn.length === 0) bad.push('fittedOn (needs the split it was measured on)');
  if (bad.length > 0) throw new OperatingPointError(`${where}: operatingPoint has a bad ${bad.join(', ')}`, REFIT);
  return { threshold: o.threshold as number, margin: o.margin as number, sensitivity: o.sensitivity as number, specificity: o.specificity as number, fittedOn: o.fittedOn as string };
}

/**
 * The operating point in `<modelDir>/manifest.json`: null when the manifest does not exist or declares none (an
 * older model); throws OperatingPointError when the manifest is unreadable or its operating point is malformed.
 */
export function readOperatingPoint(modelDir: string): OperatingPoint | null {
  const file = join(modelDir, 'manifest.json');
  if (!existsSync(file)) return null;
  let manifest: { operatingPoint?: unknown };
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as { operatingPoint?: unknown };
  } catch (err) {
    throw new OperatingPointError(`${file} is not valid JSON: ${(err as Error).message}`, 'copy the model folder again');
  }
  return manifest.operatingPoint === undefined ? null : parseOperatingPoint(manifest.operatingPoint, file);
}

/** SE and SP of `score ≥ threshold` against 0/1 labels (NaN when a class is absent). */
export function sensitivitySpecificity(scores: readonly number[], labels: readonly number[], threshold: number): { sensitivity: number; specificity: number } {
  let tp = 0;
  let fn = 0;
  let tn = 0;
  let fp = 0;
  scores.forEach((s, i) => {
    const flagged = s >= threshold;
    if (labels[i]) flagged ? tp++ : fn++;
    else flagged ? fp++ : tn++;
  });
  return { sensitivity: tp + fn ? tp / (tp + fn) : NaN, specificity: tn + fp ? tn / (tn + fp) : NaN };
}

/**
 * The highest threshold on a 0.01 grid whose sensitivity reaches `target`: a screening aid chooses how many
 * melanomas it may miss and takes the best specificity that allows. The grid keeps the number readable and
 * stable under re-fits (on the shipped model's split SE changes only every few hundredths).
 */
export function thresholdForSensitivity(scores: readonly number[], labels: readonly number[], target: number): number {
  if (!(target > 0 && target <= 1)) throw new RangeError(`target sensitivity must be in (0, 1], not ${target}`);
  if (!labels.some((l) => l)) throw new RangeError('no malignant example in the split: sensitivity is undefined');
  for (let k = 99; k >= 1; k--) {
    const t = k / 100;
    if (sensitivitySpecificity(scores, labels, t).sensitivity >= target) return t;
  }
  return 0.01;
}

/** The operating point at `threshold` ± `margin`, measured on the given scores. */
export function measureOperatingPoint(scores: readonly number[], labels: readonly number[], threshold: number, margin: number, fittedOn: string): OperatingPoint {
  const { sensitivity, specificity } = sensitivitySpecificity(scores, labels, threshold);
  return parseOperatingPoint({ threshold, margin, sensitivity, specificity, fittedOn }, 'measured operating point');
}
