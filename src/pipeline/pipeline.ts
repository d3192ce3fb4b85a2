import {
  Subject,
  connect,
  filter,
  map,
  merge,
  tap,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { frameInfo, type Detection, type EpisodeEndReason, type Frame, type FrameInfo, type Inference, type LesionEvent } from '../types/index.js';
import { appearanceOf, type Appearance } from './appearance.js';
import type { ContourOptions } from './contours.js';
import type { DebounceParams } from './debounce_params.js';
import { debounceLesion, isSkipped, type SkippedFrame } from './debounce_operator.js';
import { resolveEpisodeParams, type EpisodeParamsInput } from './episode_params.js';
import { createLatestOnlyStats, latestOnly } from './latest_only.js';
import { initialLiftState, liftStep } from './lift.js';
import {
  QUALITY_REASONS,
  assessQuality,
  createQualityCounters,
  type AssessedFrame,
  type QualityReason,
  type QualityRejection,
  type QualityThresholds,
} from './quality_gate.js';
import { monoNow, type Clock, type StageTimes } from './stage_timer.js';
import { createLesionEventBuilder } from './to_lesion_event.js';

/**
 * Frame$ → LesionEvent$:
 *
 *   frames ─▶ quality gate ─┬─ readable ─▶ latest-only(infer) ─┬─▶ debounce ─▶ LesionEvent (+ contours, timings)
 *                           └─ rejected ───────────────────────┘   (rejected frames only move time on)
 *
 * The model is given as a function (the real network, or a fake in tests); nothing here imports src/model.
 * Counters (frames in, rejected by reason, dropped by latest-only, processed, …) are cumulative over the
 * pipeline object's life, for the service's metrics. Each subscription has its own tracking state.
 */

/** The model as the pipeline sees it. It may run in a worker; the pipeline keeps one call in flight. */
export type InferFn = (frame: Frame) => Promise<Inference>;

export interface PipelineOptions {
  infer: InferFn;
  qualityThresholds?: Partial<QualityThresholds>;
  /** Set false to pass every frame to the model (e.g. for a still-image folder). Default true. */
  qualityGate?: boolean;
  debounceParams?: Partial<DebounceParams>;
  /** Episode parameters (episode.ts); `false` turns episodes off (plain debouncing, no `ended` events). */
  episodes?: EpisodeParamsInput | false;
  /** Asked when the frames complete: the source ended by itself, or the service is shutting down. */
  endReason?: () => Extract<EpisodeEndReason, 'source-ended' | 'shutdown'>;
  /** RDP tolerance of the contours in frame pixels (shorthand for `contourOptions.tolerance`). */
  contourTolerance?: number;
  contourOptions?: Partial<ContourOptions>;
  /** A failed inference: skip that frame and count it (default), or end the stream with the error. */
  onInferError?: 'skip' | 'fail';
  /** An inference running longer than this no longer holds the debouncer's time still. Default 10 s. */
  inferStallMs?: number;
  /** Idle tick period of the debouncer (see `DebounceOperatorOptions.idleTickMs`). */
  idleTickMs?: number;
  /**
   * Called each time a frame leaves the front of the pipeline: rejected by the gate, handed to the network,
   * or replaced in the mailbox. A paced source (`CaptureSource.demand`) given one credit per call runs exactly
   * as fast as the network takes frames, with one frame decoded ahead and none dropped.
   */
  onFrameTaken?: () => void;
  clock?: Clock;
  scheduler?: SchedulerLike;
}

/** A `LesionEvent` with the milliseconds of every stage (assignable to `LesionEvent`). */
export interface PipelineEvent extends LesionEvent {
  stages: StageTimes;
}

export interface PipelineCounters {
  framesIn: number;
  /** Passed the quality gate (offered to inference). */
  accepted: number;
  rejected: Record<QualityReason, number>;
  rejectedTotal: number;
  /** Replaced in the latest-only mailbox before inference (stale). */
  dropped: number;
  inferStarted: number;
  /** Inferences completed (model outputs given to the debouncer). */
  processed: number;
  inferErrors: number;
  /** Inference in flight / frame waiting now (0 or 1 each). */
  inFlight: number;
  waiting: number;
  events: number;
  eventsChanged: number;
}

export interface InferError {
  error: unknown;
  frame: FrameInfo;
}

export interface Pipeline {
  (frames$: Observable<Frame>): Observable<PipelineEvent>;
  /** A snapshot of the counters. */
  counters(): PipelineCounters;
  /** Every frame the quality gate rejected, with its reason and statistics. */
  readonly rejections$: Observable<QualityRejection>;
  /** Failed inferences (when `onInferError` is 'skip'). */
  readonly inferErrors$: Observable<InferError>;
}

interface InferredFrame extends Inference {
  /** Appearance of each detection's region (for the episode's "different lesion" check). */
  appearances: Map<Detection, Appearance | null>;
  qualityMs: number;
  queueMs: number;
  inferCallMs: number;
}

interface RejectedFrame extends SkippedFrame {
  qualityMs: number;
}

export function createPipeline(options: PipelineOptions): Pipeline {
  const clock = options.clock ?? monoNow;
  const gate = options.qualityGate ?? true;
  const inferStallMs = options.inferStallMs ?? 10_000;
  const contourOptions: Partial<ContourOptions> = {
    ...options.contourOptions,
    ...(options.contourTolerance !== undefined ? { tolerance: options.contourTolerance } : {}),
  };
  const quality = createQualityCounters();
  const latest = createLatestOnlyStats();
  let framesIn = 0;
  let events = 0;
  let eventsChanged = 0;
  let inferStartedAt = 0;
  const rejections = new Subject<QualityRejection>();
  const inferErrors = new Subject<InferError>();

  const episodes = options.episodes === false ? null : resolveEpisodeParams(options.episodes ?? {});
  const observationPending = () =>
    latest.inFlight + latest.waiting > 0 && clock() - inferStartedAt < inferStallMs;

  const run = (frames$: Observable<Frame>): Observable<PipelineEvent> => {
    const buildEvent = createLesionEventBuilder({ contours: contourOptions, clock });
    const assessed$: Observable<AssessedFrame> = gate
      ? frames$.pipe(
          tap(() => framesIn++),
          assessQuality({ thresholds: options.qualityThresholds, counters: quality, rejected: rejections, clock }),
        )
      : frames$.pipe(
          tap(() => framesIn++),
          map((frame) => ({ frame, assessment: { ok: true, reason: null, stats: NO_STATS }, qualityMs: 0 })),
        );

    // The lift is judged here, in capture order, before latest-only reorders and drops readable frames.
    let lift = initialLiftState();
    const withLift$ = assessed$.pipe(
      map((a) => {
        if (!episodes) return { ...a, lifted: false };
        const r = liftStep(lift, a.frame.capturedAt.monoMs, a.assessment.ok ? null : a.assessment.reason, episodes);
        lift = r.state;
        return { ...a, lifted: r.lifted };
      }),
    );

    return withLift$.pipe(
      connect((shared) =>
        merge(
          shared.pipe(
            filter((a) => a.assessment.ok),
            map((a) => ({ ...a, enqueuedAt: clock() })),
            latestOnly(
              async (a): Promise<InferredFrame> => {
                inferStartedAt = clock();
                options.onFrameTaken?.();
                const queueMs = inferStartedAt - a.enqueuedAt;
                const inference = await options.infer(a.frame);
                const inferCallMs = clock() - inferStartedAt;
                // From the pixels while we still hold them (a downsampled crop: ~0.05 ms per detection).
                const appearances = new Map<Detection, Appearance | null>();
                if (episodes) for (const d of inference.detections) appearances.set(d, appearanceOf(a.frame, d));
                return { ...inference, frame: frameInfo(a.frame), appearances, qualityMs: a.qualityMs, queueMs, inferCallMs };
              },
              {
                stats: latest,
                ...(options.onFrameTaken && { onDrop: options.onFrameTaken }),
                onError:
                  options.onInferError === 'fail'
                    ? undefined
                    : (error, a) => inferErrors.next({ error, frame: frameInfo(a.frame) }),
              },
            ),
          ),
          shared.pipe(
            filter((a) => !a.assessment.ok),
            tap(() => options.onFrameTaken?.()),
            map(
              (a): RejectedFrame => ({
                frame: frameInfo(a.frame),
                skipped: a.assessment.reason ?? 'rejected',
                lifted: a.lifted,
                qualityMs: a.qualityMs,
              }),
            ),
          ),
        ),
      ),
      debounceLesion<InferredFrame | RejectedFrame>(options.debounceParams, {
        clock,
        scheduler: options.scheduler,
        idleTickMs: options.idleTickMs,
        observationPending,
        ...(episodes ? { episodes } : {}),
        ...(options.endReason ? { endReason: options.endReason } : {}),
      }),
      map((out) => {
        const input = out.input;
        const inferred = input && !isSkipped(input) ? (input as InferredFrame) : null;
        const { event, contoursMs } = buildEvent(out.event, out.frame, inferred?.timings ?? null);
        const stages: StageTimes = {
          qualityMs: input ? input.qualityMs : 0,
          queueMs: inferred?.queueMs ?? 0,
          inferCallMs: inferred?.inferCallMs ?? 0,
          preprocessMs: event.timings.preprocessMs,
          inferMs: event.timings.inferMs,
          postprocessMs: event.timings.postprocessMs,
          debounceMs: out.debounceMs,
          contoursMs,
          latencyMs: event.timings.latencyMs,
        };
        events++;
        if (event.changed) eventsChanged++;
        return { ...event, stages };
      }),
    );
  };

  const counters = (): PipelineCounters => {
    const rejected = { ...quality.rejected };
    return {
      framesIn,
      accepted: gate ? quality.passed : framesIn,
      rejected,
      rejectedTotal: QUALITY_REASONS.reduce((s, r) => s + rejected[r], 0),
      dropped: latest.dropped,
      inferStarted: latest.started,
      processed: latest.completed,
      inferErrors: latest.failed,
      inFlight: latest.inFlight,
      waiting: latest.waiting,
      events,
      eventsChanged,
    };
  };

  return Object.assign(run, {
    counters,
    rejections$: rejections.asObservable(),
    inferErrors$: inferErrors.asObservable(),
  });
}

const NO_STATS = {
  width: 0,
  height: 0,
  meanLuma: 0,
  stdLuma: 0,
  darkFraction: 0,
  brightFraction: 0,
  laplacianVariance: 0,
};
