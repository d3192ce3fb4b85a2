import * as tf from '@tensorflow/tfjs-core';
import { assembleDetections, decideDetections } from './head_decode.js';
import type { LesionNet } from './network.js';
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
    const decision = decideDetections(cfg, props.boxes, probs, head.deltas.dataSync() as Float32Array);
    if (decision.kept.length === 0) return [];
    const masks = tf.sigmoid(net.maskHead(levels, decision.boxes.map((box) => ({ batch: 0, box })), mode));
    return assembleDetections(cfg, decision, probs, masks.dataSync() as Float32Array, masks.shape[1] as number);
  } finally {
    tf.engine().endScope();
  }
}
