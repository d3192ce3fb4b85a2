import type { BoxMask, Contour, EpisodeSummary, FrameInfo, LesionEvent, StageTimings } from '../types/index.js';
import { normalizeBox } from './box_normalize.js';
import { maskToContours, type ContourOptions } from './contours.js';
import type { DebounceEvent } from './debounce.js';
import { latencySince, monoNow, type Clock } from './stage_timer.js';

/**
 * Builds the `LesionEvent` the rest of the system sees from a debounce step: the smoothed box and the
 * contours of the tracked detection's mask (the one matched in this frame, or the last one held while the
 * track lives — so the outline does not blink on a single missed frame), both in pixels and normalised;
 * frame info; model timings; and `latencyMs` = now − `capturedAt.monoMs` on the monotonic clock, taken
 * after the contours are computed (the last work before the event leaves the pipeline).
 */

export interface ToLesionEventOptions {
  contours?: Partial<ContourOptions>;
  clock?: Clock;
}

const ZERO_TIMINGS: StageTimings = { preprocessMs: 0, inferMs: 0, postprocessMs: 0 };

/** A debounce step, with its episode when the pipeline tracks episodes. */
export type StepEvent = DebounceEvent & { episodeIndex?: number | null; episode?: EpisodeSummary | null };

export type LesionEventBuilder = (
  step: StepEvent,
  frame: FrameInfo,
  timings: StageTimings | null,
) => { event: LesionEvent; contoursMs: number };

/** A builder that remembers the contours of the last mask, so a held detection is not traced again. */
export function createLesionEventBuilder(options: ToLesionEventOptions = {}): LesionEventBuilder {
  let cache: { mask: BoxMask; width: number; height: number; contours: Contour[] } | null = null;
  const contoursOf = (mask: BoxMask, width: number, height: number): Contour[] => {
    if (cache && cache.mask === mask && cache.width === width && cache.height === height) return cache.contours;
    const contours = maskToContours(mask, width, height, options.contours);
    cache = { mask, width, height, contours };
    return contours;
  };
  return (step, frame, timings) => build(step, frame, timings, options.clock ?? monoNow, contoursOf);
}

/** One-off form of the builder (no contour cache). */
export function toLesionEvent(
  step: StepEvent,
  frame: FrameInfo,
  timings: StageTimings | null,
  options: ToLesionEventOptions = {},
): { event: LesionEvent; contoursMs: number } {
  return build(step, frame, timings, options.clock ?? monoNow, (mask, w, h) =>
    maskToContours(mask, w, h, options.contours),
  );
}

function build(
  step: StepEvent,
  frame: FrameInfo,
  timings: StageTimings | null,
  clock: Clock,
  contoursOf: (mask: BoxMask, width: number, height: number) => Contour[],
): { event: LesionEvent; contoursMs: number } {
  const live = step.state === 'tracking' || step.state === 'stable' || step.state === 'indeterminate';
  const start = clock();
  let contours: Contour[] = [];
  if (live && step.detection) {
    // Copies: consumers may mutate their event without touching the cache.
    contours = contoursOf(step.detection.mask, frame.width, frame.height).map((c) => ({
      pixels: c.pixels.map((p) => [p[0], p[1]]),
      normalized: c.normalized.map((p) => [p[0], p[1]]),
    }));
  }
  const contoursMs = clock() - start;
  const t = timings ?? ZERO_TIMINGS;
  const event: LesionEvent = {
    state: step.state,
    label: step.label,
    probabilities: step.probabilities ? { ...step.probabilities } : null,
    spread: step.spread ? { ...step.spread } : null,
    box: live && step.box ? normalizeBox(step.box, frame.width, frame.height) : null,
    contours,
    agreement: { ...step.agreement },
    trackId: step.trackId,
    frame: {
      seq: frame.seq,
      capturedAt: { ...frame.capturedAt },
      width: frame.width,
      height: frame.height,
      source: frame.source,
    },
    timings: {
      preprocessMs: t.preprocessMs,
      inferMs: t.inferMs,
      postprocessMs: t.postprocessMs,
      latencyMs: latencySince(frame, clock),
    },
    changed: step.changed,
    episodeIndex: step.episodeIndex ?? null,
  };
  if (step.episode) event.episode = { ...step.episode, agreement: { ...step.episode.agreement } };
  return { event, contoursMs };
}
