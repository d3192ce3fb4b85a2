import type { LesionLabel, LesionState } from '../types/index.js';
import type { DebounceParams } from './debounce_params.js';
import { malignancy, tally, type Track } from './debounce_track.js';

/** The verdict rule over a track's window: vote counts and the state machine's classification step. */

const other = (l: LesionLabel): LesionLabel => (l === 'benign' ? 'malignant' : 'benign');

/** Thresholds of the rule as vote counts over a window of `windowSize`. */
export function voteCounts(p: DebounceParams): { stable: number; disagree: number; contradict: number; hold: number } {
  const n = p.windowSize;
  const k = (f: number) => Math.max(1, Math.ceil(f * n - 1e-9));
  return { stable: k(p.stableAgreement), disagree: k(p.disagreeFraction), contradict: k(p.contradictFraction), hold: k(p.holdFraction) };
}

/**
 * The classification rule for a reported track (see debounce.md): from the phase before this step and the
 * window's votes, the phase after it and the label shown.
 */
export function classify(
  t: Track,
  before: LesionState,
  matched: boolean,
  p: DebounceParams,
): { phase: 'tracking' | 'stable' | 'indeterminate'; label: LesionLabel; everStable: boolean } {
  const k = voteCounts(p);
  const v = tally(t.votes);
  const agree = (l: LesionLabel) => v[l];
  const against = (l: LesionLabel) => v.present - v[l];
  // The mean must sit on the verdict's side of the threshold too (the reported mean never contradicts it).
  const meanSide = (l: LesionLabel) => {
    if (!v.mean) return false;
    const m = malignancy(v.mean);
    return l === 'malignant' ? m >= p.malignantThreshold : m < p.malignantThreshold;
  };
  const canStable = (l: LesionLabel) => agree(l) >= k.stable && meanSide(l);
  const leader: LesionLabel =
    v.malignant > v.benign
      ? 'malignant'
      : v.benign > v.malignant
        ? 'benign'
        : (t.label ?? (v.mean && malignancy(v.mean) >= p.malignantThreshold ? 'malignant' : 'benign'));

  if (before === 'stable' && t.label) {
    const l = t.label;
    if (against(l) >= k.contradict) return { phase: 'indeterminate', label: l, everStable: true };
    // Thin support is judged when the lesion is in view: a lesion that leaves goes stable → lost directly,
    // one detected only intermittently drops to tracking.
    if (matched && agree(l) < k.hold) return { phase: 'tracking', label: l, everStable: true };
    return { phase: 'stable', label: l, everStable: true };
  }

  if (before === 'indeterminate' && t.label) {
    const l = t.label;
    if (canStable(l)) return { phase: 'stable', label: l, everStable: true };
    if (canStable(other(l))) return { phase: 'stable', label: other(l), everStable: true };
    // Leave indeterminate without a verdict only once the window holds no disagreement at all (hysteresis).
    if (agree(l) > 0 && against(l) === 0) return { phase: 'tracking', label: l, everStable: t.everStable };
    return { phase: 'indeterminate', label: l, everStable: t.everStable };
  }

  // Tracking (or a track just confirmed).
  const l = t.everStable && t.label ? t.label : leader;
  if (canStable(l)) return { phase: 'stable', label: l, everStable: true };
  if (t.everStable && canStable(other(l))) return { phase: 'indeterminate', label: l, everStable: true };
  if (against(l) >= k.disagree) return { phase: 'indeterminate', label: l, everStable: t.everStable };
  return { phase: 'tracking', label: l, everStable: t.everStable };
}
