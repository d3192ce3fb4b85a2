import type { Detection, EpisodeEndReason, EpisodeSummary, FrameInfo, Inference } from '../types/index.js';
import { appearanceDistance, blendAppearance, type Appearance } from './appearance.js';
import { debounceStep, initialDebounceState, type DebounceEvent, type DebounceState } from './debounce.js';
import type { DebounceParams } from './debounce_params.js';
import { frameLabel } from './debounce_track.js';
import { isDifferentLesion, type EpisodeParams } from './episode_params.js';
import { isNestedView } from './nested_view.js';
import { addFrame, openEpisode, summarizeEpisode, type EpisodeFrame, type OpenEpisode } from './episode_summary.js';

export type { EpisodeFrame, OpenEpisode } from './episode_summary.js';

/**
 * Episodes: the examination of one lesion, the unit the device reports (one episode, one verdict, one EHR
 * record). Pure: `episodeStep(state, input, nowMs, …)` wraps `debounceStep` and returns the events to show.
 *
 * An episode opens when the debouncer confirms a track and closes on the first of:
 * - `lifted`: the gate saw the scope lifted (`lift.ts`); the track is dropped whatever the IoU after it, and
 *   model outputs of frames captured before the lift are ignored (they belong to the closed episode);
 * - `new-lesion`: the debouncer jumped to another track, or the tracked region's appearance (`appearance.ts`)
 *   differs from the episode's reference for `appearance.confirm` outputs in a row — a different lesion at the
 *   same place, which IoU alone keeps on the same track; the track is dropped and the new lesion starts over.
 *   A view nested in the reference (`nested_view.ts`: the mask shrank to the lesion's core, or grew back) is
 *   the same lesion, however different its colour statistics;
 * - `lost`: the debouncer lost the track;
 * - `source-ended` / `shutdown`: the `end` input.
 * Closing emits exactly one `ended` event carrying the summary. See debounce.md, "Episodes".
 */

export interface EpisodeState {
  debounce: DebounceState;
  open: OpenEpisode | null;
  nextIndex: number;
  /** Capture time of the last lift: model outputs of frames captured before it are stale. */
  boundaryMonoMs: number;
  lastFrame: FrameInfo | null;
}

export type EpisodeInput =
  | { kind: 'inference'; inference: Inference; appearanceOf: (d: Detection) => Appearance | null }
  | { kind: 'skipped'; frame: FrameInfo; lifted: boolean }
  | { kind: 'tick' }
  | { kind: 'end'; reason: Extract<EpisodeEndReason, 'source-ended' | 'shutdown'> };

/** A debounce event with the episode it belongs to; on `ended`, the summary. */
export interface EpisodeEvent extends DebounceEvent {
  episodeIndex: number | null;
  episode: EpisodeSummary | null;
}

export function initialEpisodeState(): EpisodeState {
  return { debounce: initialDebounceState(), open: null, nextIndex: 0, boundaryMonoMs: -Infinity, lastFrame: null };
}

function endedEvent(s: EpisodeSummary, window: number): EpisodeEvent {
  return {
    state: 'ended',
    label: s.verdict,
    probabilities: s.meanProbabilities,
    spread: s.spread,
    box: null,
    detection: null,
    matched: false,
    agreement: { agreeing: s.agreement.agreeing, window: Math.max(window, s.agreement.frames) },
    trackId: s.trackId,
    changed: true,
    episodeIndex: s.index,
    episode: s,
  };
}

const LIVE = new Set(['tracking', 'stable', 'indeterminate']);

/** A fresh debouncer that keeps counting track ids (a track id is never reused within a run). */
function resetDebounce(d: DebounceState): DebounceState {
  // `last: null`: the next event (searching) is a change, so it is shown after the `ended` one.
  return { ...initialDebounceState(), nextTrackId: d.nextTrackId };
}

/**
 * One step. `nowMs` is the step's time as for `debounceStep` (capture time of the input, or the clock for a
 * tick). Returns the events in the order to show them: an `ended` event comes right after the last event of
 * its episode (a `lost` event first, when the debouncer lost it) and before anything of the next episode.
 */
export function episodeStep(
  state: EpisodeState,
  input: EpisodeInput,
  nowMs: number,
  dp: DebounceParams,
  ep: EpisodeParams,
): { state: EpisodeState; events: EpisodeEvent[] } {
  const events: EpisodeEvent[] = [];
  let { debounce, open, nextIndex, boundaryMonoMs } = state;
  const lastFrame = input.kind === 'inference' ? input.inference.frame : input.kind === 'skipped' ? input.frame : state.lastFrame;
  const close = (reason: EpisodeEndReason, keepPending: boolean) => {
    if (!open) return;
    events.push(endedEvent(summarizeEpisode(open, reason, keepPending), dp.windowSize));
    open = null;
  };
  const done = () => ({ state: { debounce, open, nextIndex, boundaryMonoMs, lastFrame }, events });

  if (input.kind === 'end') {
    close(input.reason, true);
    debounce = resetDebounce(debounce);
    return done();
  }
  if (input.kind === 'skipped' && input.lifted) {
    // The scope left the skin: whatever comes next is another examination, even at the same place.
    boundaryMonoMs = Math.max(boundaryMonoMs, input.frame.capturedAt.monoMs);
    if (!open && debounce.track === null) return done();
    // A tentative track (never shown) is dropped silently: the screen still shows `searching`.
    const shown = open !== null;
    close('lifted', true);
    debounce = shown ? resetDebounce(debounce) : { ...resetDebounce(debounce), last: debounce.last };
    return done();
  }

  const stale = input.kind === 'inference' && input.inference.frame.capturedAt.monoMs < boundaryMonoMs;
  const inference = input.kind === 'inference' && !stale ? input.inference : null;
  let r = debounceStep(debounce, inference, dp, nowMs);
  debounce = r.state;
  let ev = r.event;

  if (open && ev.state === 'lost') {
    events.push({ ...ev, episodeIndex: open.index, episode: null });
    close('lost', true);
    return done();
  }
  if (open && LIVE.has(ev.state) && ev.trackId !== open.trackId) close('new-lesion', false); // a jump
  if (open && !LIVE.has(ev.state)) close('lost', true); // defensive: a confirmed track only leaves by lost or a jump

  if (LIVE.has(ev.state) && ev.trackId !== null && !open) {
    open = openEpisode(nextIndex++, ev.trackId, lastFrame!);
  }

  if (open && inference && ev.matched && ev.detection && input.kind === 'inference') {
    const d = ev.detection;
    const f = inference.frame;
    const frame: EpisodeFrame = {
      seq: f.seq,
      monoMs: f.capturedAt.monoMs,
      wallMs: f.capturedAt.wallMs,
      probabilities: { ...d.probabilities },
      score: d.score,
      label: frameLabel(d.probabilities, dp),
    };
    const app = input.appearanceOf(d);
    if (!app) {
      open = addFrame(open, frame); // too small to judge: the check abstains
    } else if (!open.reference) {
      open = addFrame({ ...open, reference: app, referenceCount: 1 }, frame);
    } else if (!isDifferentLesion(appearanceDistance(open.reference, app), ep)) {
      let e = open;
      for (const p of e.pending) e = addFrame(e, p.frame);
      e = addFrame({ ...e, pending: [] }, frame);
      open = { ...e, reference: blendAppearance(e.reference!, app, ep.appearance.alpha), referenceCount: e.referenceCount + 1 };
    } else if (isNestedView(open.reference, app, ep.appearance)) {
      // The mask shrank to a part of the lesion (or grew back to the whole): the same lesion at another extent.
      // The reference jumps to this view, so the next output is judged against what the network now outlines.
      let e = open;
      for (const p of e.pending) e = addFrame(e, p.frame);
      open = { ...addFrame({ ...e, pending: [] }, frame), reference: app, referenceCount: e.referenceCount + 1 };
    } else {
      const pending = [...open.pending, { frame, appearance: app }];
      const settled = open.referenceCount >= ep.appearance.confirm;
      // The different-looking outputs must look like one lesion among themselves (not a flickering mask).
      const consistent = pending.every((p) => !isDifferentLesion(appearanceDistance(p.appearance, app), ep));
      if (pending.length >= ep.appearance.confirm && !settled) {
        // The reference came from too few outputs (an odd first mask): re-seed it from what is seen now.
        let e = open;
        for (const p of pending) e = addFrame(e, p.frame);
        open = { ...e, pending: [], reference: app, referenceCount: 1 };
      } else if (pending.length >= ep.appearance.confirm && !consistent) {
        // Not one other lesion, a flicker: the oldest held-back output counts for this episode after all.
        open = { ...addFrame(open, pending[0]!.frame), pending: pending.slice(1) };
      } else if (pending.length >= ep.appearance.confirm) {
        // Another lesion under the scope: close this episode without the frames that showed the other one,
        // and let the new lesion go through probation on a fresh track (its own window, its own verdict).
        open = { ...open, pending };
        close('new-lesion', false);
        debounce = resetDebounce(debounce);
        r = debounceStep(debounce, inference, dp, nowMs);
        debounce = r.state;
        ev = r.event;
      } else {
        open = { ...open, pending };
      }
    }
  }
  if (open && ev.state === 'stable' && ev.label) open = { ...open, verdict: ev.label };
  events.push({ ...ev, episodeIndex: open && ev.trackId === open.trackId ? open.index : null, episode: null });
  return done();
}
