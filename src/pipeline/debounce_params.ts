/**
 * The debouncer's parameters: defaults, validation, and the window size for a measured inference rate.
 * What each one means and why it has its default: `debounce.md`.
 */
export interface DebounceParams {
  /** Observations (model outputs, misses included) in the agreement window. */
  windowSize: number;
  /** Fraction of the window that must vote for a class before it becomes the stable verdict. */
  stableAgreement: number;
  /** While tracking (no verdict yet): fraction of the window voting against the leader (other class or
   *  uncertain) that makes the track indeterminate. */
  disagreeFraction: number;
  /** While stable: fraction of the window voting against the verdict that drops it to indeterminate. */
  contradictFraction: number;
  /** While stable: on a frame where the lesion is seen, fewer votes for the verdict than this fraction of the
   *  window (an intermittent detection) drop it to tracking. Misses alone never demote a stable verdict. */
  holdFraction: number;
  /** Consecutive matched observations before a new track is reported (DeepStream's probation). */
  probation: number;
  /** Detections below this score are ignored. */
  minScore: number;
  /** A detection belongs to the track when its IoU with the track's last box is at least this. */
  iouThreshold: number;
  /** ... or when one of the two boxes lies at least this much inside the other (a part of the lesion, or the
   *  whole after a part: same place, whatever the IoU). */
  containThreshold: number;
  /** Consecutive observations in which the track is missed while one other lesion is seen before the track
   *  is replaced by it (a jump). A second lesion seen together with the tracked one never replaces it. */
  jumpConfirm: number;
  /** A reported track is lost after this long (monotonic ms) without a matching detection. */
  lostAfterMs: number;
  /** ... or after this many consecutive observations without one. */
  maxConsecutiveMisses: number;
  /** EMA weight of the newest box (1 = no smoothing). */
  boxAlpha: number;
  /** Probability of malignancy (normalised over the two classes) at or above which a frame votes malignant. */
  malignantThreshold: number;
  /** Frames with |p(malignant) − threshold| below this vote "uncertain": against either verdict. */
  uncertainMargin: number;
}

export const DEFAULT_DEBOUNCE_PARAMS: DebounceParams = {
  windowSize: 10,
  stableAgreement: 0.8,
  disagreeFraction: 0.3,
  contradictFraction: 0.4,
  holdFraction: 0.5,
  probation: 3,
  minScore: 0.5,
  iouThreshold: 0.3,
  containThreshold: 0.9,
  jumpConfirm: 3,
  lostAfterMs: 1500,
  maxConsecutiveMisses: 10,
  boxAlpha: 0.5,
  malignantThreshold: 0.5,
  uncertainMargin: 0.1,
};

/** A window of about `seconds` of model outputs at `rate` outputs per second (at least 5). */
export function windowSizeForRate(rate: number, seconds = 1): number {
  return Math.max(5, Math.round(rate * seconds));
}

export function resolveDebounceParams(partial: Partial<DebounceParams> = {}): DebounceParams {
  const p: DebounceParams = { ...DEFAULT_DEBOUNCE_PARAMS };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (p as unknown as Record<string, number>)[k] = v;
  const fail = (msg: string) => {
    throw new RangeError(`debounce params: ${msg}`);
  };
  if (!Number.isInteger(p.windowSize) || p.windowSize < 1) fail(`windowSize must be an integer ≥ 1`);
  for (const k of ['stableAgreement', 'disagreeFraction', 'contradictFraction', 'holdFraction'] as const) {
    if (!(p[k] > 0 && p[k] <= 1)) fail(`${k} must be in (0, 1]`);
  }
  if (p.stableAgreement <= 0.5) fail('stableAgreement must be above 0.5 (a majority)');
  if (p.holdFraction > p.stableAgreement) fail('holdFraction must not exceed stableAgreement');
  if (!Number.isInteger(p.probation) || p.probation < 1) fail('probation must be an integer ≥ 1');
  if (!Number.isInteger(p.jumpConfirm) || p.jumpConfirm < 1) fail('jumpConfirm must be an integer ≥ 1');
  if (!(p.iouThreshold > 0 && p.iouThreshold <= 1)) fail('iouThreshold must be in (0, 1]');
  if (!(p.containThreshold > 0 && p.containThreshold <= 1)) fail('containThreshold must be in (0, 1]');
  if (!(p.boxAlpha > 0 && p.boxAlpha <= 1)) fail('boxAlpha must be in (0, 1]');
  if (!(p.lostAfterMs > 0)) fail('lostAfterMs must be > 0');
  if (!Number.isInteger(p.maxConsecutiveMisses) || p.maxConsecutiveMisses < 1) fail('maxConsecutiveMisses must be an integer ≥ 1');
  if (!(p.malignantThreshold > 0 && p.malignantThreshold < 1)) fail('malignantThreshold must be in (0, 1)');
  if (!(p.uncertainMargin >= 0 && p.uncertainMargin < 0.5)) fail('uncertainMargin must be in [0, 0.5)');
  return p;
}


const resolvedParams = new WeakSet<object>();
export function isResolved(p: DebounceParams | Partial<DebounceParams>): p is DebounceParams {
  return resolvedParams.has(p);
}
/** Resolves and validates once; `debounceStep` then skips re-validation for this object. */
export function prepareDebounceParams(partial: Partial<DebounceParams> = {}): DebounceParams {
  const p = resolveDebounceParams(partial);
  resolvedParams.add(p);
  return p;
}
