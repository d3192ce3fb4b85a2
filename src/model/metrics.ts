/** ISIC 2017 segmentation scores of one image from its confusion counts. */
export interface SegmentationScores {
  JA: number;
  DI: number;
  AC: number;
  SE: number;
  SP: number;
}

export function confusion(pred: Uint8Array, truth: Uint8Array): { tp: number; fp: number; fn: number; tn: number } {
  if (pred.length !== truth.length) throw new Error(`mask sizes differ: ${pred.length} vs ${truth.length}`);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] ? 1 : 0;
    const t = truth[i] ? 1 : 0;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { tp, fp, fn, tn: pred.length - tp - fp - fn };
}

/**
 * Per-image scores. Empty-denominator conventions: an empty prediction of an empty truth is perfect
 * (JA = DI = 1); SE with no lesion pixels and SP with no skin pixels count as 1.
 */
export function segmentationScores(c: { tp: number; fp: number; fn: number; tn: number }): SegmentationScores {
  const union = c.tp + c.fp + c.fn;
  return {
    JA: union === 0 ? 1 : c.tp / union,
    DI: union === 0 ? 1 : (2 * c.tp) / (2 * c.tp + c.fp + c.fn),
    AC: (c.tp + c.tn) / Math.max(1, c.tp + c.tn + c.fp + c.fn),
    SE: c.tp + c.fn === 0 ? 1 : c.tp / (c.tp + c.fn),
    SP: c.tn + c.fp === 0 ? 1 : c.tn / (c.tn + c.fp),
  };
}

export function meanScores(all: SegmentationScores[]): SegmentationScores {
  const n = Math.max(1, all.length);
  const sum = (k: keyof SegmentationScores) => all.reduce((a, s) => a + s[k], 0) / n;
  return { JA: sum('JA'), DI: sum('DI'), AC: sum('AC'), SE: sum('SE'), SP: sum('SP') };
}

/** Area under the ROC curve by the rank statistic (Mann–Whitney U), ties counted half. */
export function rocAuc(scores: number[], labels: number[]): number {
  const pos = labels.filter((l) => l === 1).length;
  const neg = labels.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  const idx = scores.map((s, i) => [s, labels[i]] as const).sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && idx[j][0] === idx[i][0]) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (idx[k][1] === 1) rankSum += avgRank;
    i = j;
  }
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Average precision as scikit-learn computes it: Σ (R_n − R_{n−1}) P_n over descending thresholds. */
export function averagePrecision(scores: number[], labels: number[]): number {
  const pos = labels.filter((l) => l === 1).length;
  if (pos === 0) return NaN;
  const idx = scores.map((s, i) => [s, labels[i]] as const).sort((a, b) => b[0] - a[0]);
  let tp = 0;
  let fp = 0;
  let prevRecall = 0;
  let ap = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && idx[j][0] === idx[i][0]) {
      if (idx[j][1] === 1) tp++;
      else fp++;
      j++;
    }
    const recall = tp / pos;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
    i = j;
  }
  return ap;
}

export interface ClassificationScores {
  AUC: number;
  AP: number;
  AC: number;
  SE: number;
  SP: number;
  threshold: number;
}

/** Malignant-vs-benign scores; AC/SE/SP at `threshold` on the malignant probability. */
export function classificationScores(scores: number[], labels: number[], threshold = 0.5): ClassificationScores {
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  scores.forEach((s, i) => {
    const p = s >= threshold ? 1 : 0;
    if (p && labels[i]) tp++;
    else if (p) fp++;
    else if (labels[i]) fn++;
    else tn++;
  });
  return {
    AUC: rocAuc(scores, labels),
    AP: averagePrecision(scores, labels),
    AC: (tp + tn) / Math.max(1, scores.length),
    SE: tp + fn ? tp / (tp + fn) : NaN,
    SP: tn + fp ? tn / (tn + fp) : NaN,
    threshold,
  };
}
