import type { ClassProbabilities } from './detection.js';
import type { LesionLabel } from './lesion_event.js';

/** Why an episode (the examination of one lesion) ended. */
export type EpisodeEndReason = 'lifted' | 'new-lesion' | 'lost' | 'source-ended' | 'shutdown';
export const EPISODE_END_REASONS: readonly EpisodeEndReason[] = ['lifted', 'new-lesion', 'lost', 'source-ended', 'shutdown'];

/**
 * The summary of one episode, carried by its single `ended` event. Times are capture times of the first and
 * last frames that saw the lesion (wall clock, ms since the epoch); statistics are over those frames.
 */
export interface EpisodeSummary {
  /** 0, 1, 2 … per pipeline run; the publisher turns it into `<deviceId>:<sessionId>:ep<index>`. */
  index: number;
  trackId: number;
  startedAtMs: number;
  endedAtMs: number;
  durationMs: number;
  endReason: EpisodeEndReason;
  /** The stable verdict the episode reached (the last one if it changed), null if it never became stable. */
  verdict: LesionLabel | null;
  meanProbabilities: ClassProbabilities | null;
  /** Population standard deviation of each probability over the frames that saw the lesion. */
  spread: ClassProbabilities | null;
  /** Frames whose own label equals the verdict, of the frames that saw the lesion. */
  agreement: { agreeing: number; frames: number };
  framesSeen: number;
  /** Frame seq of the highest-scoring detection of the lesion, or null. */
  bestFrameSeq: number | null;
}
