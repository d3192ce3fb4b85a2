import type { ClassProbabilities, EpisodeEndReason, EpisodeSummary, FrameInfo, LesionLabel } from '../types/index.js';
import type { Appearance } from './appearance.js';

/**
 * The running statistics of an open episode (the frames that saw the lesion) and its summary when it closes:
 * mean and population standard deviation of the probabilities (Welford: one pass, exact 0 for identical
 * values), votes for each class, the highest-scoring frame, first and last capture times.
 */

export interface EpisodeFrame {
  seq: number;
  monoMs: number;
  wallMs: number;
  probabilities: ClassProbabilities;
  score: number;
  label: LesionLabel | null;
}

export interface OpenEpisode {
  index: number;
  trackId: number;
  startedAt: { monoMs: number; wallMs: number };
  lastSeen: { monoMs: number; wallMs: number };
  framesSeen: number;
  /** Welford accumulators of the probabilities. */
  mean: ClassProbabilities;
  m2: ClassProbabilities;
  votes: { benign: number; malignant: number };
  verdict: LesionLabel | null;
  best: { seq: number; score: number } | null;
  reference: Appearance | null;
  /** Outputs blended into the reference: one from a single odd output is not yet a lesion's appearance. */
  referenceCount: number;
  /** Outputs that looked different, held back from the summary until the difference is confirmed or refuted. */
  pending: { frame: EpisodeFrame; appearance: Appearance }[];
}

const zero = (): ClassProbabilities => ({ benign: 0, malignant: 0 });

export function openEpisode(index: number, trackId: number, f: FrameInfo): OpenEpisode {
  const at = { monoMs: f.capturedAt.monoMs, wallMs: f.capturedAt.wallMs };
  return {
    index,
    trackId,
    startedAt: at,
    lastSeen: at,
    framesSeen: 0,
    mean: zero(),
    m2: zero(),
    votes: { benign: 0, malignant: 0 },
    verdict: null,
    best: null,
    reference: null,
    referenceCount: 0,
    pending: [],
  };
}

/** Adds one frame that saw the lesion to the episode's statistics. */
export function addFrame(e: OpenEpisode, f: EpisodeFrame): OpenEpisode {
  const n = e.framesSeen + 1;
  const db = f.probabilities.benign - e.mean.benign;
  const dm = f.probabilities.malignant - e.mean.malignant;
  const mean = { benign: e.mean.benign + db / n, malignant: e.mean.malignant + dm / n };
  const m2 = {
    benign: e.m2.benign + db * (f.probabilities.benign - mean.benign),
    malignant: e.m2.malignant + dm * (f.probabilities.malignant - mean.malignant),
  };
  const votes = { ...e.votes };
  if (f.label) votes[f.label]++;
  const best = !e.best || f.score > e.best.score ? { seq: f.seq, score: f.score } : e.best;
  const startedAt = e.framesSeen === 0 ? { monoMs: Math.min(e.startedAt.monoMs, f.monoMs), wallMs: Math.min(e.startedAt.wallMs, f.wallMs) } : e.startedAt;
  const lastSeen = f.monoMs >= e.lastSeen.monoMs ? { monoMs: f.monoMs, wallMs: f.wallMs } : e.lastSeen;
  return { ...e, framesSeen: n, mean, m2, votes, best, startedAt, lastSeen };
}

/** The summary of a closed episode. Frames still pending (a difference not confirmed) count for it. */
export function summarizeEpisode(e: OpenEpisode, endReason: EpisodeEndReason, keepPending: boolean): EpisodeSummary {
  let ep = e;
  if (keepPending) for (const p of e.pending) ep = addFrame(ep, p.frame);
  const n = ep.framesSeen;
  return {
    index: ep.index,
    trackId: ep.trackId,
    startedAtMs: ep.startedAt.wallMs,
    endedAtMs: ep.lastSeen.wallMs,
    durationMs: Math.max(0, ep.lastSeen.monoMs - ep.startedAt.monoMs),
    endReason,
    verdict: ep.verdict,
    meanProbabilities: n > 0 ? { ...ep.mean } : null,
    spread: n > 0 ? { benign: Math.sqrt(ep.m2.benign / n), malignant: Math.sqrt(ep.m2.malignant / n) } : null,
    agreement: { agreeing: ep.verdict ? ep.votes[ep.verdict] : 0, frames: n },
    framesSeen: n,
    bestFrameSeq: ep.best?.seq ?? null,
  };
}

