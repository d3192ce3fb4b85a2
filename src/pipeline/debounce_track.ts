import type { Box, ClassProbabilities, Detection, LesionLabel } from '../types/index.js';
import type { DebounceParams } from './debounce_params.js';
import { iou, nestedFraction } from './iou.js';

/**
 * The tracked lesion: its window of votes, its boxes (raw for association, EMA for display), and the
 * association of a model output's detections with it. Pure data and pure updates.
 */

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


export function validBox(b: Box): boolean {
  return b.every(Number.isFinite) && b[2] > b[0] && b[3] > b[1];
}

export function vote(d: Detection | null, p: DebounceParams): Vote {
  if (!d) return { present: false, label: null, probabilities: null };
  return { present: true, label: frameLabel(d.probabilities, p), probabilities: { ...d.probabilities } };
}

export function pushVote(votes: readonly Vote[], v: Vote, n: number): Vote[] {
  const out = votes.length >= n ? votes.slice(votes.length - n + 1) : votes.slice();
  out.push(v);
  return out;
}

export function newTrack(d: Detection, nowMs: number, p: DebounceParams): Track {
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

export function hitTrack(t: Track, d: Detection, nowMs: number, p: DebounceParams): Track {
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

export function missTrack(t: Track, p: DebounceParams): Track {
  return {
    ...t,
    consecutiveMisses: t.consecutiveMisses + 1,
    votes: pushVote(t.votes, vote(null, p), p.windowSize),
  };
}

/**
 * The candidate that best overlaps `box`: IoU ≥ `threshold`, or one box ≥ `contain` inside the other — the
 * network outlined a part of the lesion, or the whole after a part (a core's box inside the whole's has IoU
 * 0.19 on the demo clip's sixth lesion under MobileNetV2), which is the same place; whether it is the same
 * lesion is the episode's appearance check. Among several the best IoU wins; candidates come sorted by score,
 * so on a tie the higher score wins.
 */
export function bestMatch(candidates: readonly Detection[], box: Box, threshold: number, contain = Infinity): Detection | null {
  let best: Detection | null = null;
  let bestIou = -1;
  for (const d of candidates) {
    const o = iou(d.box, box);
    if ((o >= threshold || nestedFraction(d.box, box) >= contain) && o > bestIou) {
      best = d;
      bestIou = o;
    }
  }
  return best;
}

