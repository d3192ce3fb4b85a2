import { clipBox, decodeBox, HEAD_WEIGHTS } from './box_coder.js';
import { calibrate } from './calibration.js';
import type { ModelConfig } from './config.js';
import type { RawDetection } from './detect.js';
import { nms } from './nms.js';

/** The classify/detect subnet's decisions, whichever engine computed its outputs. */
export interface HeadDecision {
  /** Indices into the proposals of the detections kept by NMS, best first. */
  kept: number[];
  /** The kept detections' refined boxes, in input pixels. */
  boxes: Float32Array[];
  scores: Float32Array;
}

/**
 * Box-head outputs → refined boxes, score 1 − P(background), NMS, degenerate boxes dropped. `probs` is the
 * softmax [R, 3] and `deltas` [R, 4] for proposals `rois`.
 */
export function decideDetections(cfg: ModelConfig, rois: Float32Array[], probs: ArrayLike<number>, deltas: Float32Array): HeadDecision {
  const s = cfg.inputSize;
  const n = rois.length;
  const refined = new Float32Array(n * 4);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    decodeBox(deltas.subarray(i * 4, i * 4 + 4), rois[i], HEAD_WEIGHTS, refined, i * 4);
    clipBox(refined, i * 4, s, s);
    scores[i] = 1 - probs[i * 3];
  }
  const kept = nms(refined, scores, cfg.detection.nmsIoU, cfg.detection.maxDetections, cfg.detection.scoreThreshold).filter(
    (i) => refined[i * 4 + 2] - refined[i * 4] >= 1 && refined[i * 4 + 3] - refined[i * 4 + 1] >= 1,
  );
  return { kept, boxes: kept.map((i) => refined.slice(i * 4, i * 4 + 4)), scores };
}

/** Kept detections with their calibrated class probabilities and mask maps ([K, m, m] sigmoid outputs). */
export function assembleDetections(cfg: ModelConfig, d: HeadDecision, probs: ArrayLike<number>, maskData: Float32Array, m: number): RawDetection[] {
  return d.kept.map((i, j) => {
    const fg = probs[i * 3 + 1] + probs[i * 3 + 2];
    const malignant = calibrate(fg > 0 ? probs[i * 3 + 2] / fg : 0.5, cfg.calibration);
    return {
      box: d.boxes[j],
      score: d.scores[i],
      benign: 1 - malignant,
      malignant,
      mask: maskData.slice(j * m * m, (j + 1) * m * m),
      maskSize: m,
    };
  });
}
