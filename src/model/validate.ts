import type { LetterboxedSet } from './dataset.js';
import { detect } from './detect.js';
import { normalizeLetterboxed } from './letterbox.js';
import { classificationScores, confusion, meanScores, segmentationScores, type ClassificationScores, type SegmentationScores } from './metrics.js';
import type { LesionNet } from './network.js';
import { pasteMask, unionMask } from './paste_mask.js';

export interface ValidationResult {
  segmentation: SegmentationScores;
  classification: ClassificationScores;
  n: number;
  imagesPerSecond: number;
}

/**
 * Scores the network on letterboxed images at the input resolution (fast enough to run every epoch).
 * `dermstream eval` scores at each image's own resolution instead.
 */
export function validateLetterboxed(net: LesionNet, set: LetterboxedSet, limit = Infinity): ValidationResult {
  const s = set.size;
  const n = Math.min(set.ids.length, limit);
  const seg: SegmentationScores[] = [];
  const scores: number[] = [];
  const labels: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const x = normalizeLetterboxed(set.images.subarray(i * s * s * 3, (i + 1) * s * s * 3), 1, s, net.config.channelMeans);
    const dets = detect(net, x);
    x.dispose();
    const masks = dets.map((d) => pasteMask(d.box, d.mask, d.maskSize, s, s, net.config.detection.maskThreshold));
    seg.push(segmentationScores(confusion(unionMask(masks, s, s), set.masks.subarray(i * s * s, (i + 1) * s * s))));
    scores.push(dets.length ? dets[0].malignant : 0);
    labels.push(set.labels[i]);
  }
  return {
    segmentation: meanScores(seg),
    classification: classificationScores(scores, labels),
    n,
    imagesPerSecond: n / ((performance.now() - t0) / 1000),
  };
}
