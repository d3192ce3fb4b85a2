import type { AnchorSet } from './anchors.js';
import { encodeBox, HEAD_WEIGHTS, RPN_WEIGHTS } from './box_coder.js';
import { iou } from './iou.js';

/** A seeded PRNG (mulberry32) so training runs are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffleInPlace<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export interface AnchorTargets {
  /** 1 = lesion, 0 = background, for sampled anchors; other entries are ignored (weight 0). */
  labels: Float32Array;
  /** 1 for the anchors that enter the classification loss. */
  weights: Float32Array;
  /** Regression targets for positive anchors (zeros elsewhere), [N, 4]. */
  deltas: Float32Array;
  /** 1 for positives: the regression mask. */
  positive: Float32Array;
  numPositive: number;
}

/**
 * Faster R-CNN anchor labelling with the paper's thresholds: IoU > 0.7 positive, < 0.3 negative, and
 * the best anchor of each ground-truth box positive too; then `sampled` anchors with at most half positive.
 * A null box (no lesion in view) makes every sampled anchor negative.
 */
export function anchorTargets(anchors: AnchorSet, gt: ArrayLike<number> | null, posIoU: number, negIoU: number, sampled: number, rand: () => number): AnchorTargets {
  const n = anchors.count;
  const labels = new Float32Array(n);
  const weights = new Float32Array(n);
  const deltas = new Float32Array(n * 4);
  const positive = new Float32Array(n);
  const pos: number[] = [];
  const neg: number[] = [];
  if (gt) {
    let best = -1;
    let bestIoU = 0;
    for (let i = 0; i < n; i++) {
      const v = iou(anchors.boxes, gt, i * 4, 0);
      if (v > bestIoU) {
        bestIoU = v;
        best = i;
      }
      if (v > posIoU) pos.push(i);
      else if (v < negIoU) neg.push(i);
    }
    if (best >= 0 && !pos.includes(best)) pos.push(best);
  } else {
    for (let i = 0; i < n; i++) neg.push(i);
  }
  const nPos = Math.min(pos.length, Math.floor(sampled / 2));
  const chosenPos = shuffleInPlace(pos, rand).slice(0, nPos);
  const chosenNeg = shuffleInPlace(neg, rand).slice(0, sampled - nPos);
  for (const i of chosenPos) {
    labels[i] = 1;
    weights[i] = 1;
    positive[i] = 1;
    encodeBox(gt as ArrayLike<number>, anchors.boxes.subarray(i * 4, i * 4 + 4), RPN_WEIGHTS, deltas, i * 4);
  }
  for (const i of chosenNeg) weights[i] = 1;
  return { labels, weights, deltas, positive, numPositive: nPos };
}

export interface RoiTargets {
  boxes: Float32Array[];
  /** 0 background, 1 benign, 2 malignant. */
  classes: number[];
  /** Head regression targets (zeros for background). */
  deltas: Float32Array;
  positive: number[];
}

/**
 * Samples RoIs for the heads from the proposals plus the ground truth and jittered copies of it (so the
 * heads see well-placed boxes even while the RPN is still poor): IoU ≥ 0.5 foreground, else background.
 */
export function roiTargets(proposals: Float32Array[], gt: Float32Array | null, gtClass: number, count: number, posFraction: number, inputSize: number, rand: () => number): RoiTargets {
  const candidates = [...proposals];
  if (gt) {
    candidates.push(gt);
    for (let j = 0; j < 3; j++) {
      const w = gt[2] - gt[0];
      const h = gt[3] - gt[1];
      const jit = (s: number) => (rand() - 0.5) * 0.3 * s;
      const b = new Float32Array([gt[0] + jit(w), gt[1] + jit(h), gt[2] + jit(w), gt[3] + jit(h)]);
      b[0] = Math.max(0, Math.min(b[0], b[2] - 2));
      b[1] = Math.max(0, Math.min(b[1], b[3] - 2));
      b[2] = Math.min(inputSize, b[2]);
      b[3] = Math.min(inputSize, b[3]);
      candidates.push(b);
    }
  }
  const fg: Float32Array[] = [];
  const bg: Float32Array[] = [];
  for (const b of candidates) {
    if (b[2] - b[0] < 1 || b[3] - b[1] < 1) continue;
    if (gt && iou(b, gt) >= 0.5) fg.push(b);
    else bg.push(b);
  }
  // Random background boxes keep the classifier honest about skin when proposals all sit on the lesion.
  while (bg.length < count) {
    const s = (0.15 + 0.6 * rand()) * inputSize;
    const x = rand() * (inputSize - s);
    const y = rand() * (inputSize - s);
    const b = new Float32Array([x, y, x + s, y + s]);
    if (!gt || iou(b, gt) < 0.5) bg.push(b);
  }
  const nFg = Math.min(fg.length, Math.round(count * posFraction));
  const chosen = [...shuffleInPlace(fg, rand).slice(0, nFg), ...shuffleInPlace(bg, rand).slice(0, count - nFg)];
  const deltas = new Float32Array(chosen.length * 4);
  const classes: number[] = [];
  const positive: number[] = [];
  chosen.forEach((b, i) => {
    if (i < nFg && gt) {
      classes.push(gtClass);
      positive.push(i);
      encodeBox(gt, b, HEAD_WEIGHTS, deltas, i * 4);
    } else classes.push(0);
  });
  return { boxes: chosen, classes, deltas, positive };
}
