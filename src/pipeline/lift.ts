import type { EpisodeParams } from './episode_params.js';

/**
 * Scope lifted? A run of quality-gate rejections whose reason says "not on skin" (dark, flat, defocused)
 * lasting `liftMs` of capture time. Computed in capture order, at the gate: readable frames reach the
 * debouncer only after inference (late, and some are dropped by latest-only), so only the gate sees the
 * frames in the order the scope produced them. Any readable frame, or a rejection for another reason
 * (glare), ends the run.
 */

export interface LiftState {
  /** Capture time (monotonic ms) of the first rejection of the current run, or null. */
  since: number | null;
  /** Whether the current run has already been reported as a lift (it is reported once). */
  reported: boolean;
}

export const initialLiftState = (): LiftState => ({ since: null, reported: false });

/**
 * One frame at the gate: its capture time and its rejection reason (null when readable). `lifted` is true on
 * the one frame at which the run reaches `liftMs`.
 */
export function liftStep(
  state: LiftState,
  monoMs: number,
  reason: string | null,
  params: Pick<EpisodeParams, 'liftMs' | 'liftReasons'>,
): { state: LiftState; lifted: boolean } {
  if (reason === null || !params.liftReasons.includes(reason)) return { state: initialLiftState(), lifted: false };
  const since = state.since ?? monoMs;
  const lifted = !state.reported && monoMs - since >= params.liftMs;
  return { state: { since, reported: state.reported || lifted }, lifted };
}
