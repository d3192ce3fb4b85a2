import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Detection, EpisodeEndReason, FrameInfo, Inference } from '../types/index.js';
import type { Appearance } from './appearance.js';
import { debounceStep, initialDebounceState, type DebounceState } from './debounce.js';
import { prepareDebounceParams, type DebounceParams } from './debounce_params.js';
import { episodeStep, initialEpisodeState, type EpisodeEvent, type EpisodeInput, type EpisodeState } from './episode.js';
import { resolveEpisodeParams, type EpisodeParamsInput } from './episode_params.js';
import { monoNow, type Clock } from './stage_timer.js';

/**
 * The RxJS operator around `debounceStep` (or, with `episodes`, `episodeStep`): steps on model outputs and
 * skipped frames, ticks when idle, and with episodes closes the open one when the source completes.
 */

/** A frame that reached the debouncer without a model output (e.g. rejected by the quality gate). */
export interface SkippedFrame {
  frame: FrameInfo;
  skipped: string;
  /** True on the frame at which the gate saw the scope lifted (lift.ts): ends the episode. */
  lifted?: boolean;
}

/** A model output, with the appearance of its detections when the pipeline computed them (episodes). */
export type InferenceWithAppearance = Inference & { appearances?: ReadonlyMap<Detection, Appearance | null> };
export type DebounceInput = InferenceWithAppearance | SkippedFrame;

export function isSkipped(x: DebounceInput): x is SkippedFrame {
  return (x as SkippedFrame).skipped !== undefined;
}

export interface DebounceOutput<I extends DebounceInput = DebounceInput> {
  /** With `episodes` off, `episodeIndex` and `episode` are always null. */
  event: EpisodeEvent;
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
  /** Track episodes (episode.ts) with these parameters; absent: plain debouncing, no `ended` events. */
  episodes?: EpisodeParamsInput;
  /** Why the source completed, asked once at completion (default `source-ended`). */
  endReason?: () => Extract<EpisodeEndReason, 'source-ended' | 'shutdown'>;
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
  const ep = options.episodes ? resolveEpisodeParams(options.episodes) : null;
  const episodeInput = (input: I | null): EpisodeInput =>
    input === null
      ? ({ kind: 'tick' } as const)
      : isSkipped(input)
        ? ({ kind: 'skipped', frame: input.frame, lifted: input.lifted === true } as const)
        : { kind: 'inference', inference: input as Inference, appearanceOf: (d: Detection) => (input as InferenceWithAppearance).appearances?.get(d) ?? null };
  return (source) =>
    new Observable<DebounceOutput<I>>((subscriber) => {
      let dstate: DebounceState = initialDebounceState();
      let estate: EpisodeState = initialEpisodeState();
      let lastFrame: FrameInfo | null = null;
      let lastInputAt = clock();
      let lastNow = -Infinity;
      let tick: Subscription | null = null;

      const steps = (input: I | null, nowMs: number): DebounceOutput<I>[] => {
        const start = clock();
        // Time never runs backwards for the core (a skipped frame may overtake a slower inference).
        lastNow = Math.max(lastNow, nowMs);
        let events: EpisodeEvent[];
        if (ep) {
          const r = episodeStep(estate, episodeInput(input), lastNow, p, ep);
          estate = r.state;
          events = r.events;
        } else {
          const r = debounceStep(dstate, input === null || isSkipped(input) ? null : input, p, lastNow);
          dstate = r.state;
          events = [{ ...r.event, episodeIndex: null, episode: null }];
        }
        const debounceMs = clock() - start;
        return events.map((event) => ({ event, input, frame: lastFrame as FrameInfo, debounceMs }));
      };
      const hasTrack = () => (ep ? estate.debounce.track !== null || estate.open !== null : dstate.track !== null);

      const scheduleTick = () => {
        if (idleTickMs <= 0) return;
        tick?.unsubscribe();
        tick = scheduler.schedule(function () {
          const now = clock();
          if (lastFrame && hasTrack() && now - lastInputAt >= idleTickMs && !pending()) {
            for (const out of steps(null, now)) if (out.event.changed) subscriber.next(out);
          }
          this.schedule(undefined, idleTickMs);
        }, idleTickMs);
      };

      const sub = source.subscribe({
        next(input) {
          lastInputAt = clock();
          lastFrame = input.frame;
          const skipped = isSkipped(input);
          let outs: DebounceOutput<I>[];
          try {
            // A skipped frame while a model output is pending carries no evidence: it does not move time
            // (a lift still ends the episode: it is judged at the gate, in capture order).
            outs = steps(input, skipped && pending() ? lastNow : input.frame.capturedAt.monoMs);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          for (const out of outs) if (!skipped || skippedMode === 'all' || out.event.changed) subscriber.next(out);
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          if (ep && lastFrame) {
            // The end of the source (or shutdown) closes the open episode: its one `ended` event goes out
            // before the stream completes, so the publisher can still send it.
            const r = episodeStep(estate, { kind: 'end', reason: options.endReason?.() ?? 'source-ended' }, lastNow, p, ep);
            estate = r.state;
            for (const event of r.events) subscriber.next({ event, input: null, frame: lastFrame, debounceMs: 0 });
          }
          subscriber.complete();
        },
      });
      scheduleTick();
      return () => {
        sub.unsubscribe();
        tick?.unsubscribe();
      };
    });
}
