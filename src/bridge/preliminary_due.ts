/**
 * When an episode whose `ended` message has not arrived gets a preliminary Observation from its last stable verdict.
 * Pure.
 *
 * - `provisionalAfterMs` after anything of the episode was last seen: a live device sends a lesion heartbeat at
 *   least every `heartbeatMs` (1 s by default) while a lesion is tracked and ends every episode with one `ended`
 *   message, so a silence of 15 heartbeats means it died, lost its broker, or was switched off mid-episode.
 * - sooner when the device's retained status says `offline` (its last will) after the last message of the episode,
 *   `offlineGraceMs` later: the grace lets an `ended` message already queued at the broker for another worker of
 *   the group land first.
 */
import type { EpisodeRecord } from './episode_ledger.js';

export interface PreliminaryTiming {
  provisionalAfterMs: number;
  offlineGraceMs: number;
}

export const DEFAULT_TIMING: PreliminaryTiming = { provisionalAfterMs: 15_000, offlineGraceMs: 2_000 };

export type PreliminaryDecision = { due: false } | { due: true; why: 'silence' | 'offline' };

export function preliminaryDue(rec: EpisodeRecord, nowMs: number, offlineSinceMs: number | null, t: PreliminaryTiming = DEFAULT_TIMING): PreliminaryDecision {
  if (rec.written !== 'none' || rec.lastStable === null) return { due: false };
  if (offlineSinceMs !== null && offlineSinceMs >= rec.lastSeenAt && nowMs - offlineSinceMs >= t.offlineGraceMs) return { due: true, why: 'offline' };
  if (nowMs - rec.lastSeenAt >= t.provisionalAfterMs) return { due: true, why: 'silence' };
  return { due: false };
}
