import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { FrameInfo, Inference } from '../types/index.js';
import { debounceStep, initialDebounceState, type DebounceEvent } from './debounce.js';
import { prepareDebounceParams, type DebounceParams } from './debounce_params.js';
import { monoNow, type Clock } from './stage_timer.js';

/** The RxJS operator around `debounceStep`: steps on model outputs and skipped frames, ticks when idle. */


/** A frame that reached the debouncer without a model output (e.g. rejected by the quality gate). */
export interface SkippedFrame {
  frame: FrameInfo;
  skipped: string;
}

export type DebounceInput = Inference | SkippedFrame;

export function isSkipped(x: DebounceInput): x is SkippedFrame {
  return (x as SkippedFrame).skipped !== undefined;
}

export interface DebounceOutput<I extends DebounceInput = DebounceInput> {
  event: DebounceEvent;
  /** The input that produced the event, or null for an idle tick. */
  input: I | null;
  /** Frame of the input, or of the last input for an idle tick. */
  frame: FrameInfo;
  /** Milliseconds of the step. */
  debounceMs: number;
}

export interface DebounceOperatorOptions {
  /** Monotonic clock for idle ticks (same time base as `capturedAt.monoMs`). */
  clock?: Clock;
  scheduler?: SchedulerLike;
  /** With no input for this long, time is advanced on the clock (to report a vanished lesion lost).
   *  Default: a quarter of `lostAfterMs`. 0 disables idle ticks. */
  idleTickMs?: number;
  /** Emit an event for a skipped frame: only when it changes something (default) or always. */
  skippedFrames?: 'changes' | 'all';
  /**
   * True while a model output is on its way (a frame in inference or waiting for it). Skipped frames and
   * idle ticks then do not advance time: with a slow model, the gap between outputs is not evidence that the
   * lesion left. The pipeline wires this to the latest-only stage.
   */
  observationPending?: () => boolean;
}

/**
 * Operator over model outputs (and skipped frames): one event per model output; skipped frames and idle
 * ticks advance time and emit only when that changes the state (e.g. to `lost`), unless configured.
 * The step's time is the frame's capture time (`capturedAt.monoMs`), so timing rules follow the video.
 */
export function debounceLesion<I extends DebounceInput>(
  params: Partial<DebounceParams> = {},
  options: DebounceOperatorOptions = {},
): OperatorFunction<I, DebounceOutput<I>> {
  const p = prepareDebounceParams(params);
  const clock = options.clock ?? monoNow;
  const scheduler = options.scheduler ?? asyncScheduler;
  const idleTickMs = options.idleTickMs ?? p.lostAfterMs / 4;
  const skippedMode = options.skippedFrames ?? 'changes';
  const pending = options.observationPending ?? (() => false);
  return (source) =>
    new Observable<DebounceOutput<I>>((subscriber) => {
      let state = initialDebounceState();
      let lastFrame: FrameInfo | null = null;
      let lastInputAt = clock();
      let lastNow = -Infinity;
      let tick: Subscription | null = null;

      const step = (input: I | null, nowMs: number): DebounceOutput<I> => {
        const start = clock();
        // Time never runs backwards for the core (a skipped frame may overtake a slower inference).
        lastNow = Math.max(lastNow, nowMs);
        const r = debounceStep(state, input === null || isSkipped(input) ? null : input, p, lastNow);
        state = r.state;
        return { event: r.event, input, frame: lastFrame as FrameInfo, debounceMs: clock() - start };
      };

      const scheduleTick = () => {
        if (idleTickMs <= 0) return;
        tick?.unsubscribe();
        tick = scheduler.schedule(function () {
          const now = clock();
          if (lastFrame && state.track && now - lastInputAt >= idleTickMs && !pending()) {
            const out = step(null, now);
            if (out.event.changed) subscriber.next(out);
          }
          this.schedule(undefined, idleTickMs);
        }, idleTickMs);
      };

      const sub = source.subscribe({
        next(input) {
          lastInputAt = clock();
          lastFrame = input.frame;
          const skipped = isSkipped(input);
          let out: DebounceOutput<I>;
          try {
            // A skipped frame while a model output is pending carries no evidence: it does not move time.
            out = step(input, skipped && pending() ? lastNow : input.frame.capturedAt.monoMs);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (!skipped || skippedMode === 'all' || out.event.changed) subscriber.next(out);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      scheduleTick();
      return () => {
        sub.unsubscribe();
        tick?.unsubscribe();
      };
    });
}
