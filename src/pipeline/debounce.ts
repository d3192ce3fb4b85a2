import type { Box, ClassProbabilities, Detection, Inference, LesionLabel, LesionState } from '../types/index.js';
import { isResolved, resolveDebounceParams, type DebounceParams } from './debounce_params.js';
import { bestMatch, hitTrack, missTrack, newTrack, tally, validBox, type Track } from './debounce_track.js';
import { iou } from './iou.js';
import { classify } from './debounce_verdict.js';

/**
 * The steady verdict: associates the lesion across model outputs, smooths its box and probabilities, and
 * runs the state machine searching → tracking → stable / indeterminate → lost → searching.
 * The rule, its parameters and the reasoning are in `debounce.md` next to this file; read that first.
 *
 * `debounceStep` is the pure core (no clock, no I/O: same inputs, same outputs); `debounceLesion`
 * (debounce_operator.ts) is the RxJS operator around it, which also advances time when no model output arrives so a lesion that vanished
 * (scope lifted, every frame rejected, camera gone) is reported lost.
 */

export * from './debounce_params.js';
export * from './debounce_track.js';
export * from './debounce_verdict.js';

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
      const m = bestMatch(candidates, track.lastBox, p.iouThreshold, p.containThreshold);
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

