import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type {
  Box,
  ClassProbabilities,
  Detection,
  FrameInfo,
  Inference,
  LesionLabel,
  LesionState,
} from '../types/index.js';
import { iou } from './iou.js';
import { monoNow, type Clock } from './stage_timer.js';

/**
 * The steady verdict: associates the lesion across model outputs, smooths its box and probabilities, and
 * runs the state machine searching → tracking → stable / indeterminate → lost → searching.
 * The rule, its parameters and the reasoning are in `debounce.md` next to this file; read that first.
 *
 * `debounceStep` is the pure core (no clock, no I/O: same inputs, same outputs); `debounceLesion` is the
 * RxJS operator around it, which also advances time when no model output arrives so a lesion that vanished
 * (scope lifted, every frame rejected, camera gone) is reported lost.
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
  if (!(p.boxAlpha > 0 && p.boxAlpha <= 1)) fail('boxAlpha must be in (0, 1]');
  if (!(p.lostAfterMs > 0)) fail('lostAfterMs must be > 0');
  if (!Number.isInteger(p.maxConsecutiveMisses) || p.maxConsecutiveMisses < 1) fail('maxConsecutiveMisses must be an integer ≥ 1');
  if (!(p.malignantThreshold > 0 && p.malignantThreshold < 1)) fail('malignantThreshold must be in (0, 1)');
  if (!(p.uncertainMargin >= 0 && p.uncertainMargin < 0.5)) fail('uncertainMargin must be in [0, 0.5)');
  return p;
}

/** One observation of the track in the window: a matched detection's vote, or a miss. */
export interface Vote {
  /** False for a miss (no matching detection in that model output). */
  present: boolean;
  /** The frame's class, or null when uncertain (or a miss). */
  label: LesionLabel | null;
  probabilities: ClassProbabilities | null;
}

export interface Track {
  /** Null while on probation (not reported yet). */
  id: number | null;
  /** Consecutive matched observations (the probation counter). */
  hits: number;
  consecutiveMisses: number;
  lastSeenMs: number;
  /** Last matched raw box (used for association: follows a moving scope without EMA lag). */
  lastBox: Box;
  /** EMA-smoothed box (reported). */
  smoothBox: Box;
  lastDetection: Detection;
  /** The last `windowSize` observations, oldest first. */
  votes: Vote[];
  /** Label shown: the leader while no verdict was ever reached, then the last stable verdict. */
  label: LesionLabel | null;
  everStable: boolean;
  /** A different lesion seen while this track is missed: a tentative track that replaces this one after
   *  `jumpConfirm` consecutive observations. */
  challenger: Track | null;
}

export interface DebounceState {
  phase: LesionState;
  track: Track | null;
  nextTrackId: number;
  /** What the previous event showed, for `changed`. */
  last: { state: LesionState; label: LesionLabel | null; trackId: number | null } | null;
}

export interface DebounceEvent {
  state: LesionState;
  label: LesionLabel | null;
  /** Mean class probabilities over the matched observations in the window. */
  probabilities: ClassProbabilities | null;
  /** Their standard deviation over the same observations. */
  spread: ClassProbabilities | null;
  /** Smoothed box (frame pixels). */
  box: Box | null;
  /** The tracked detection: this step's match, else the last one held while the track lives. */
  detection: Detection | null;
  /** Whether `detection` was matched in this step (false when held from an earlier one). */
  matched: boolean;
  agreement: { agreeing: number; window: number };
  trackId: number | null;
  /** State, label or track id differ from the previous event. */
  changed: boolean;
}

export function initialDebounceState(): DebounceState {
  return { phase: 'searching', track: null, nextTrackId: 1, last: null };
}

/** Probability of malignancy normalised over the two classes (0.5 if both are 0). */
export function malignancy(p: ClassProbabilities): number {
  const s = p.benign + p.malignant;
  return s > 0 ? p.malignant / s : 0.5;
}

/** The class a single frame votes for, or null when it is too close to the threshold to vote. */
export function frameLabel(p: ClassProbabilities, params: Pick<DebounceParams, 'malignantThreshold' | 'uncertainMargin'>): LesionLabel | null {
  const m = malignancy(p);
  if (Math.abs(m - params.malignantThreshold) < params.uncertainMargin) return null;
  return m >= params.malignantThreshold ? 'malignant' : 'benign';
}

export interface Tally {
  benign: number;
  malignant: number;
  uncertain: number;
  present: number;
  /** Mean and standard deviation of the probabilities over present votes (null if none). */
  mean: ClassProbabilities | null;
  std: ClassProbabilities | null;
}

export function tally(votes: readonly Vote[]): Tally {
  let benign = 0;
  let malignant = 0;
  let uncertain = 0;
  let present = 0;
  let sb = 0;
  let sm = 0;
  for (const v of votes) {
    if (!v.present || !v.probabilities) continue;
    present++;
    if (v.label === 'benign') benign++;
    else if (v.label === 'malignant') malignant++;
    else uncertain++;
    sb += v.probabilities.benign;
    sm += v.probabilities.malignant;
  }
  if (present === 0) return { benign, malignant, uncertain, present, mean: null, std: null };
  const mb = sb / present;
  const mm = sm / present;
  // Second pass for the deviations (exact 0 for identical values, unlike E[x²] − E[x]²).
  let qb = 0;
  let qm = 0;
  for (const v of votes) {
    if (!v.present || !v.probabilities) continue;
    qb += (v.probabilities.benign - mb) ** 2;
    qm += (v.probabilities.malignant - mm) ** 2;
  }
  return {
    benign,
    malignant,
    uncertain,
    present,
    mean: { benign: mb, malignant: mm },
    std: { benign: Math.sqrt(qb / present), malignant: Math.sqrt(qm / present) },
  };
}

const other = (l: LesionLabel): LesionLabel => (l === 'benign' ? 'malignant' : 'benign');

/** Thresholds of the rule as vote counts over a window of `windowSize`. */
export function voteCounts(p: DebounceParams): { stable: number; disagree: number; contradict: number; hold: number } {
  const n = p.windowSize;
  const k = (f: number) => Math.max(1, Math.ceil(f * n - 1e-9));
  return { stable: k(p.stableAgreement), disagree: k(p.disagreeFraction), contradict: k(p.contradictFraction), hold: k(p.holdFraction) };
}

function validBox(b: Box): boolean {
  return b.every(Number.isFinite) && b[2] > b[0] && b[3] > b[1];
}

function vote(d: Detection | null, p: DebounceParams): Vote {
  if (!d) return { present: false, label: null, probabilities: null };
  return { present: true, label: frameLabel(d.probabilities, p), probabilities: { ...d.probabilities } };
}

function pushVote(votes: readonly Vote[], v: Vote, n: number): Vote[] {
  const out = votes.length >= n ? votes.slice(votes.length - n + 1) : votes.slice();
  out.push(v);
  return out;
}

function newTrack(d: Detection, nowMs: number, p: DebounceParams): Track {
  return {
    id: null,
    hits: 1,
    consecutiveMisses: 0,
    lastSeenMs: nowMs,
    lastBox: d.box,
    smoothBox: [...d.box] as Box,
    lastDetection: d,
    votes: [vote(d, p)],
    label: null,
    everStable: false,
    challenger: null,
  };
}

function hitTrack(t: Track, d: Detection, nowMs: number, p: DebounceParams): Track {
  const a = p.boxAlpha;
  const s = t.smoothBox;
  return {
    ...t,
    hits: t.hits + 1,
    consecutiveMisses: 0,
    lastSeenMs: nowMs,
    lastBox: d.box,
    smoothBox: [0, 1, 2, 3].map((i) => a * d.box[i] + (1 - a) * s[i]) as Box,
    lastDetection: d,
    votes: pushVote(t.votes, vote(d, p), p.windowSize),
    challenger: null,
  };
}

function missTrack(t: Track, p: DebounceParams): Track {
  return {
    ...t,
    consecutiveMisses: t.consecutiveMisses + 1,
    votes: pushVote(t.votes, vote(null, p), p.windowSize),
  };
}

/** The candidate that best overlaps `box` with IoU ≥ threshold; candidates come sorted by score, so on a tie
 *  the higher score wins. */
function bestMatch(candidates: readonly Detection[], box: Box, threshold: number): Detection | null {
  let best: Detection | null = null;
  let bestIou = -1;
  for (const d of candidates) {
    const o = iou(d.box, box);
    if (o >= threshold && o > bestIou) {
      best = d;
      bestIou = o;
    }
  }
  return best;
}

/**
 * The classification rule for a reported track (see debounce.md): from the phase before this step and the
 * window's votes, the phase after it and the label shown.
 */
function classify(
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

/**
 * Pure core: one model output (or `null`: time passed without one, e.g. a frame the quality gate rejected)
 * at monotonic time `nowMs`. Returns the next state and the event to show.
 */
export function debounceStep(
  state: DebounceState,
  inference: Inference | null,
  params: DebounceParams | Partial<DebounceParams>,
  nowMs: number,
): { state: DebounceState; event: DebounceEvent } {
  const p = isResolved(params) ? params : resolveDebounceParams(params);
  // A lost track is shown once; the step after starts from searching.
  let track: Track | null = state.phase === 'lost' ? null : state.track;
  let before: LesionState = state.phase === 'lost' ? 'searching' : state.phase;
  let nextTrackId = state.nextTrackId;
  let matched = false;
  let lost = false;

  const confirmIfDue = (t: Track): Track => {
    if (t.id === null && t.hits >= p.probation) {
      const id = nextTrackId++;
      before = 'tracking';
      return { ...t, id };
    }
    return t;
  };

  if (inference === null) {
    if (track && nowMs - track.lastSeenMs >= p.lostAfterMs) {
      if (track.id !== null) lost = true;
      else track = null;
    }
  } else {
    const candidates = inference.detections
      .filter((d) => d.score >= p.minScore && validBox(d.box))
      .sort((a, b) => b.score - a.score);
    if (!track) {
      if (candidates.length > 0) {
        track = confirmIfDue(newTrack(candidates[0], nowMs, p));
        matched = true;
      }
    } else {
      const m = bestMatch(candidates, track.lastBox, p.iouThreshold);
      if (m) {
        track = confirmIfDue(hitTrack(track, m, nowMs, p));
        matched = true;
      } else if (track.id === null) {
        // Probation failed (DeepStream's early termination): drop silently, maybe start over on another.
        track = candidates.length > 0 ? confirmIfDue(newTrack(candidates[0], nowMs, p)) : null;
        matched = track !== null;
      } else {
        let t = missTrack(track, p);
        if (candidates.length > 0) {
          const c = candidates[0];
          const prev = t.challenger;
          const challenger =
            prev && iou(prev.lastBox, c.box) >= p.iouThreshold ? hitTrack(prev, c, nowMs, p) : newTrack(c, nowMs, p);
          t = { ...t, challenger };
          if (challenger.hits >= p.jumpConfirm) {
            // A jump: the scope moved to another lesion. New track (new id once past probation).
            before = 'searching';
            t = confirmIfDue({ ...challenger, challenger: null });
            matched = true;
          }
        } else {
          t = { ...t, challenger: null };
        }
        track = t;
        if (!matched && (t.consecutiveMisses >= p.maxConsecutiveMisses || nowMs - t.lastSeenMs >= p.lostAfterMs)) {
          lost = true;
        }
      }
    }
  }

  let phase: LesionState;
  if (lost) {
    phase = 'lost';
  } else if (!track || track.id === null) {
    phase = 'searching';
  } else {
    const c = classify(track, before, matched, p);
    track = { ...track, label: c.label, everStable: c.everStable };
    phase = c.phase;
  }

  const event = buildEvent(phase, track, matched, p, state.last);
  return {
    state: {
      phase,
      track,
      nextTrackId,
      last: { state: event.state, label: event.label, trackId: event.trackId },
    },
    event,
  };
}

function buildEvent(
  phase: LesionState,
  track: Track | null,
  matched: boolean,
  p: DebounceParams,
  last: DebounceState['last'],
): DebounceEvent {
  const window = p.windowSize;
  let event: Omit<DebounceEvent, 'changed'>;
  if (phase === 'searching' || !track || track.id === null) {
    event = {
      state: 'searching',
      label: null,
      probabilities: null,
      spread: null,
      box: null,
      detection: null,
      matched: false,
      agreement: { agreeing: 0, window },
      trackId: null,
    };
  } else {
    const v = tally(track.votes);
    const label = track.label;
    const live = phase !== 'lost';
    event = {
      state: phase,
      label,
      probabilities: v.mean,
      spread: v.std,
      box: live ? ([...track.smoothBox] as Box) : null,
      detection: live ? track.lastDetection : null,
      matched: live && matched,
      agreement: { agreeing: label ? v[label] : 0, window },
      trackId: track.id,
    };
  }
  const changed =
    !last || last.state !== event.state || last.label !== event.label || last.trackId !== event.trackId;
  return { ...event, changed };
}

const resolvedParams = new WeakSet<object>();
function isResolved(p: DebounceParams | Partial<DebounceParams>): p is DebounceParams {
  return resolvedParams.has(p);
}
/** Resolves and validates once; `debounceStep` then skips re-validation for this object. */
export function prepareDebounceParams(partial: Partial<DebounceParams> = {}): DebounceParams {
  const p = resolveDebounceParams(partial);
  resolvedParams.add(p);
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Operator

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
