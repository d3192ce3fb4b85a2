/**
 * When does a LesionEvent become a durable `lesion` message? A pure policy: on the first event, on every change of
 * state, label or track (a new lesion), and otherwise as a heartbeat at most every `heartbeatMs` while a lesion is in
 * view (tracking/stable/indeterminate). `searching` and `lost` are published once, when entered. An `ended`
 * event (the close of an episode, with its summary) is always published: it is the episode's one record.
 */
import type { LesionEvent, LesionLabel, LesionState } from '../types/index.js';

/** What the policy remembers of the last published lesion message. */
export interface PublishedLesion {
  state: LesionState;
  label: LesionLabel | null;
  trackId: number | null;
  episodeIndex?: number | null;
  /** Monotonic ms of when it was published. */
  at: number;
}

export interface LesionPolicyParams {
  /** Minimum spacing of heartbeats, ms (default 1000: at most one a second). */
  heartbeatMs: number;
  /** States that get a heartbeat. */
  heartbeatStates: readonly LesionState[];
}

export const DEFAULT_LESION_POLICY: LesionPolicyParams = {
  heartbeatMs: 1000,
  heartbeatStates: ['tracking', 'stable', 'indeterminate'],
};

export type LesionPublishReason = 'first' | 'change' | 'heartbeat' | 'ended';

export interface LesionDecision {
  publish: boolean;
  reason: LesionPublishReason | null;
}

export function shouldPublishLesion(
  prev: PublishedLesion | null,
  event: Pick<LesionEvent, 'state' | 'label' | 'trackId' | 'changed' | 'episodeIndex'>,
  now: number,
  params: LesionPolicyParams = DEFAULT_LESION_POLICY,
): LesionDecision {
  if (event.state === 'ended') return { publish: true, reason: 'ended' };
  if (prev === null) return { publish: true, reason: 'first' };
  // Compare with what was last *published* as well as trusting `changed`: a change is never skipped.
  const episodeChanged = (event.episodeIndex ?? null) !== (prev.episodeIndex ?? null);
  if (event.changed || event.state !== prev.state || event.label !== prev.label || event.trackId !== prev.trackId || episodeChanged) {
    return { publish: true, reason: 'change' };
  }
  if (params.heartbeatStates.includes(event.state) && now - prev.at >= params.heartbeatMs) {
    return { publish: true, reason: 'heartbeat' };
  }
  return { publish: false, reason: null };
}

export function publishedLesionOf(event: Pick<LesionEvent, 'state' | 'label' | 'trackId' | 'episodeIndex'>, at: number): PublishedLesion {
  return { state: event.state, label: event.label, trackId: event.trackId, episodeIndex: event.episodeIndex ?? null, at };
}
