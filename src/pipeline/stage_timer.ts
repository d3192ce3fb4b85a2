import type { FrameInfo } from '../types/index.js';

/**
 * Stage timing: a monotonic clock, a helper that times a synchronous call, and the per-stage record every
 * pipeline result carries. All times are milliseconds on the monotonic clock that capture stamps
 * `capturedAt.monoMs` with (`performance.now()` of the main thread), so `latencyMs` is capture → now.
 */

/** A monotonic millisecond clock. Injected everywhere so tests can drive time. */
export type Clock = () => number;

export const monoNow: Clock = () => performance.now();

/** Milliseconds spent by each pipeline stage on one result (model stages come from `Inference.timings`). */
export interface StageTimes {
  /** Quality gate (frame statistics) on this frame. */
  qualityMs: number;
  /** Time the frame waited in the latest-only mailbox before inference started. */
  queueMs: number;
  /** Wall time of the `infer` call as seen by the pipeline (model pre + infer + post + any worker transfer). */
  inferCallMs: number;
  /** Model stages, copied from `Inference.timings` (0 for frames that were not inferred). */
  preprocessMs: number;
  inferMs: number;
  postprocessMs: number;
  /** Debounce/tracking step. */
  debounceMs: number;
  /** Mask → contours (marching squares + simplification + normalisation). */
  contoursMs: number;
  /** Capture → the moment the event was built. */
  latencyMs: number;
}

export function emptyStageTimes(): StageTimes {
  return {
    qualityMs: 0,
    queueMs: 0,
    inferCallMs: 0,
    preprocessMs: 0,
    inferMs: 0,
    postprocessMs: 0,
    debounceMs: 0,
    contoursMs: 0,
    latencyMs: 0,
  };
}

/** Runs `fn` and returns its value with the milliseconds it took on `clock`. */
export function timed<T>(fn: () => T, clock: Clock = monoNow): { value: T; ms: number } {
  const start = clock();
  const value = fn();
  return { value, ms: clock() - start };
}

/** Capture → now on the monotonic clock; never negative (a clock from another thread could be behind). */
export function latencySince(frame: Pick<FrameInfo, 'capturedAt'>, clock: Clock = monoNow): number {
  return Math.max(0, clock() - frame.capturedAt.monoMs);
}
