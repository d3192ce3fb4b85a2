import { Observable, filter, map, type MonoTypeOperatorFunction, type Observer, type OperatorFunction } from 'rxjs';
import type { Frame } from '../types/index.js';
import { monoNow, type Clock } from './stage_timer.js';

/**
 * Quality gate: skip frames that cannot be read clinically before they cost an inference.
 *
 * One pass over the frame box-averages it to a small grey copy (`analysisWidth` px wide, luma
 * Y = 0.299 R + 0.587 G + 0.114 B in fixed point); the statistics come from that copy:
 * - `dark`: more than `maxDarkFraction` of the pixels are darker than `darkLuma` (lamp off, lens capped).
 * - `overexposed`: more than `maxBrightFraction` of the pixels are at or above `brightLuma` (clipped glare).
 * - `uniform`: standard deviation of the grey copy below `minStdDev` (scope not on skin: a flat surface).
 * - `blurry`: variance of the 4-neighbour Laplacian of the grey copy below `minLaplacianVariance` (out of
 *   focus, motion). Measured at the analysis resolution: the box average suppresses sensor noise, so the
 *   number reflects structure at a scale a reader sees; calibrate the threshold on the device's own frames.
 * Checked in that order; the first failing check is the reason.
 *
 * The fractions are used rather than the mean so the dark circular vignette of a contact dermatoscope
 * (up to ~40 % of a 4:3 frame) neither rejects a good frame nor hides a dark one. `roi` < 1 assesses only a
 * centred crop of that fraction of width and height.
 */

export type QualityReason = 'dark' | 'overexposed' | 'uniform' | 'blurry';
export const QUALITY_REASONS: readonly QualityReason[] = ['dark', 'overexposed', 'uniform', 'blurry'];

export interface QualityThresholds {
  /** Width of the grey analysis copy in pixels (the frame is box-averaged by an integer factor). */
  analysisWidth: number;
  /** Centred fraction of width and height that is assessed, (0, 1]. */
  roi: number;
  /** A pixel with luma below this (0–255) is dark. */
  darkLuma: number;
  maxDarkFraction: number;
  /** A pixel with luma at or above this is clipped. */
  brightLuma: number;
  maxBrightFraction: number;
  /** Minimum standard deviation of luma (0–255) for a frame that shows something. */
  minStdDev: number;
  /** Minimum variance of the Laplacian of the grey copy for a frame in focus. */
  minLaplacianVariance: number;
}

export const DEFAULT_QUALITY_THRESHOLDS: QualityThresholds = {
  analysisWidth: 160,
  roi: 1,
  darkLuma: 30,
  maxDarkFraction: 0.8,
  brightLuma: 250,
  maxBrightFraction: 0.3,
  minStdDev: 4,
  minLaplacianVariance: 8,
};

export interface QualityStats {
  /** Size of the analysed grey copy. */
  width: number;
  height: number;
  meanLuma: number;
  stdLuma: number;
  darkFraction: number;
  brightFraction: number;
  laplacianVariance: number;
}

export interface QualityAssessment {
  ok: boolean;
  reason: QualityReason | null;
  stats: QualityStats;
}

export interface QualityRejection {
  frame: Frame;
  reason: QualityReason;
  stats: QualityStats;
}

/** Counts per reason; the service exports them as metrics. Mutated in place by the gate. */
export interface QualityCounters {
  assessed: number;
  passed: number;
  rejected: Record<QualityReason, number>;
}

export function createQualityCounters(): QualityCounters {
  return { assessed: 0, passed: 0, rejected: { dark: 0, overexposed: 0, uniform: 0, blurry: 0 } };
}

export function resolveQualityThresholds(partial: Partial<QualityThresholds> = {}): QualityThresholds {
  const t = { ...DEFAULT_QUALITY_THRESHOLDS, ...stripUndefined(partial) };
  if (!(t.analysisWidth >= 8)) throw new RangeError(`quality analysisWidth must be ≥ 8, got ${t.analysisWidth}`);
  if (!(t.roi > 0 && t.roi <= 1)) throw new RangeError(`quality roi must be in (0, 1], got ${t.roi}`);
  return t;
}

/**
 * Box-averages the (roi of the) RGB frame into a grey Float32Array of `width × height`.
 * The integer factor is round(roiWidth / analysisWidth) (at least 1), the same in x and y.
 */
export function greyDownscale(
  frame: Pick<Frame, 'width' | 'height' | 'data'>,
  analysisWidth: number,
  roi = 1,
): { grey: Float32Array; width: number; height: number } {
  const rw = Math.max(1, Math.round(frame.width * roi));
  const rh = Math.max(1, Math.round(frame.height * roi));
  const x0 = Math.floor((frame.width - rw) / 2);
  const y0 = Math.floor((frame.height - rh) / 2);
  const f = Math.max(1, Math.round(rw / analysisWidth));
  const ow = Math.max(1, Math.floor(rw / f));
  const oh = Math.max(1, Math.floor(rh / f));
  const fw = Math.min(f, rw);
  const fh = Math.min(f, rh);
  const src = frame.data;
  const stride = frame.width * 3;
  const grey = new Float32Array(ow * oh);
  const acc = new Uint32Array(ow);
  // Fixed-point luma weights (sum 256): 77 R + 150 G + 29 B.
  const scale = 1 / (fw * fh * 256);
  for (let oy = 0; oy < oh; oy++) {
    acc.fill(0);
    for (let dy = 0; dy < fh; dy++) {
      let i = (y0 + oy * f + dy) * stride + x0 * 3;
      for (let ox = 0; ox < ow; ox++) {
        let s = 0;
        let k = i;
        for (let dx = 0; dx < fw; dx++) {
          s += 77 * src[k] + 150 * src[k + 1] + 29 * src[k + 2];
          k += 3;
        }
        acc[ox] += s;
        i += f * 3;
      }
    }
    const row = oy * ow;
    for (let ox = 0; ox < ow; ox++) grey[row + ox] = acc[ox] * scale;
  }
  return { grey, width: ow, height: oh };
}

/** Variance of the 4-neighbour Laplacian over the interior of a grey image (0 if smaller than 3×3). */
export function laplacianVariance(grey: Float32Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  let sumSq = 0;
  for (let y = 1; y < height - 1; y++) {
    let i = y * width + 1;
    for (let x = 1; x < width - 1; x++, i++) {
      const l = grey[i - 1] + grey[i + 1] + grey[i - width] + grey[i + width] - 4 * grey[i];
      sum += l;
      sumSq += l * l;
    }
  }
  const n = (width - 2) * (height - 2);
  const mean = sum / n;
  return Math.max(0, sumSq / n - mean * mean);
}

/** Pure: the statistics of one frame and whether it can be read. */
export function assessFrameQuality(
  frame: Pick<Frame, 'width' | 'height' | 'data'>,
  thresholds: Partial<QualityThresholds> = {},
): QualityAssessment {
  const t = resolveQualityThresholds(thresholds);
  if (frame.data.length < frame.width * frame.height * 3) {
    throw new RangeError(
      `frame data has ${frame.data.length} bytes, expected ${frame.width}×${frame.height}×3 (packed RGB)`,
    );
  }
  const { grey, width, height } = greyDownscale(frame, t.analysisWidth, t.roi);
  const n = grey.length;
  let sum = 0;
  let sumSq = 0;
  let dark = 0;
  let bright = 0;
  for (let i = 0; i < n; i++) {
    const v = grey[i];
    sum += v;
    sumSq += v * v;
    if (v < t.darkLuma) dark++;
    else if (v >= t.brightLuma) bright++;
  }
  const meanLuma = sum / n;
  const stdLuma = Math.sqrt(Math.max(0, sumSq / n - meanLuma * meanLuma));
  const darkFraction = dark / n;
  const brightFraction = bright / n;
  const lapVar = laplacianVariance(grey, width, height);
  const stats: QualityStats = {
    width,
    height,
    meanLuma,
    stdLuma,
    darkFraction,
    brightFraction,
    laplacianVariance: lapVar,
  };
  let reason: QualityReason | null = null;
  if (darkFraction > t.maxDarkFraction) reason = 'dark';
  else if (brightFraction > t.maxBrightFraction) reason = 'overexposed';
  else if (stdLuma < t.minStdDev) reason = 'uniform';
  else if (lapVar < t.minLaplacianVariance) reason = 'blurry';
  return { ok: reason === null, reason, stats };
}

export interface QualityGateOptions {
  thresholds?: Partial<QualityThresholds>;
  /** Counters to update in place (the service reads them for metrics). */
  counters?: QualityCounters;
  /** Told about every rejected frame (e.g. a Subject the service turns into metrics or a status line). */
  rejected?: Partial<Observer<QualityRejection>>;
  clock?: Clock;
}

/** A frame with its quality assessment and the milliseconds the assessment took. */
export interface AssessedFrame {
  frame: Frame;
  assessment: QualityAssessment;
  qualityMs: number;
}

/**
 * Operator: assesses every frame, counts passes and rejections by reason, reports rejections, and emits
 * every frame tagged with its assessment (for a pipeline that still wants to know a rejected frame's time).
 */
export function assessQuality(options: QualityGateOptions = {}): OperatorFunction<Frame, AssessedFrame> {
  const thresholds = resolveQualityThresholds(options.thresholds);
  const counters = options.counters ?? createQualityCounters();
  const clock = options.clock ?? monoNow;
  return (source) =>
    new Observable<AssessedFrame>((subscriber) =>
      source.subscribe({
        next(frame) {
          let assessment: QualityAssessment;
          const start = clock();
          try {
            assessment = assessFrameQuality(frame, thresholds);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          const qualityMs = clock() - start;
          counters.assessed++;
          if (assessment.ok) {
            counters.passed++;
          } else {
            const reason = assessment.reason as QualityReason;
            counters.rejected[reason]++;
            options.rejected?.next?.({ frame, reason, stats: assessment.stats });
          }
          subscriber.next({ frame, assessment, qualityMs });
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}

/** Operator: passes readable frames and drops the others (counting each reason and reporting it). */
export function qualityGate(options: QualityGateOptions = {}): MonoTypeOperatorFunction<Frame> {
  return (source) =>
    source.pipe(
      assessQuality(options),
      filter((a) => a.assessment.ok),
      map((a) => a.frame),
    );
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
