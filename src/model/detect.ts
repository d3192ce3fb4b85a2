import * as tf from '@tensorflow/tfjs-core';
import { clipBox, decodeBox, HEAD_WEIGHTS } from './box_coder.js';
import { calibrate } from './calibration.js';
import type { LesionNet } from './network.js';
import { nms } from './nms.js';
import { proposals } from './proposals.js';

/** A detection in network-input pixels, before mapping back to the frame. */
export interface RawDetection {
  box: Float32Array;
  /** 1 − P(background). */
  score: number;
  /** P(benign), P(malignant) renormalised over the two lesion classes. */
  benign: number;
  malignant: number;
  /** Mask probabilities over the box, [maskSize × maskSize], row-major. */
  mask: Float32Array;
  maskSize: number;
}

/**
 * One forward pass: features → RPN proposals → classify/detect subnet → NMS → segment subnet on the
 * kept boxes. Input [1, S, S, 3]; every intermediate tensor is freed before returning.
 */
export function detect(net: LesionNet, input: tf.Tensor4D): RawDetection[] {
  const cfg = net.config;
  const s = cfg.inputSize;
  const mode = { training: false };
  tf.engine().startScope();
  try {
    const levels = net.features(input, mode);
    const rpn = net.rpn(levels, mode);
    const props = proposals(net.anchors, rpn.logits.dataSync() as Float32Array, rpn.deltas.dataSync() as Float32Array, s, cfg.rpn.preNmsTopK, cfg.rpn.postNmsTopK, cfg.rpn.nmsIoU);
    if (props.boxes.length === 0) return [];
    const head = net.boxHead(
      levels,
      props.boxes.map((box) => ({ batch: 0, box })),
    );
    const probs = tf.softmax(head.classLogits).dataSync();
    const deltas = head.deltas.dataSync();
    const n = props.boxes.length;
    const refined = new Float32Array(n * 4);
    const scores = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      decodeBox(deltas.subarray(i * 4, i * 4 + 4), props.boxes[i], HEAD_WEIGHTS, refined, i * 4);
      clipBox(refined, i * 4, s, s);
      scores[i] = 1 - probs[i * 3];
    }
    const kept = nms(refined, scores, cfg.detection.nmsIoU, cfg.detection.maxDetections, cfg.detection.scoreThreshold).filter(
      (i) => refined[i * 4 + 2] - refined[i * 4] >= 1 && refined[i * 4 + 3] - refined[i * 4 + 1] >= 1,
    );
    if (kept.length === 0) return [];
    const boxes = kept.map((i) => refined.slice(i * 4, i * 4 + 4));
    const masks = tf.sigmoid(net.maskHead(levels, boxes.map((box) => ({ batch: 0, box })), mode));
    const maskData = masks.dataSync() as Float32Array;
    const m = masks.shape[1];
    return kept.map((i, j) => {
      const fg = probs[i * 3 + 1] + probs[i * 3 + 2];
      const malignant = calibrate(fg > 0 ? probs[i * 3 + 2] / fg : 0.5, cfg.calibration);
      return {
        box: boxes[j],
        score: scores[i],
        benign: 1 - malignant,
        malignant,
        mask: maskData.slice(j * m * m, (j + 1) * m * m),
        maskSize: m,
      };
    });
  } finally {
    tf.engine().endScope();
  }
}
