import * as tf from '@tensorflow/tfjs-core';
import { calibrate } from './calibration.js';
import type { RawDetection } from './detect.js';
import type { LesionNet } from './network.js';

/**
 * The classify and segment subnets on a given box (network-input pixels), skipping the RPN and NMS:
 * the box is already known (from the coarse pass), only its features are new. Input [1, S, S, 3];
 * every intermediate tensor is freed before returning.
 */
export function headsAtBox(net: LesionNet, input: tf.Tensor4D, box: Float32Array): RawDetection {
  const mode = { training: false };
  tf.engine().startScope();
  try {
    const levels = net.features(input, mode);
    const rois = [{ batch: 0, box }];
    const probs = tf.softmax(net.boxHead(levels, rois).classLogits).dataSync();
    const masks = tf.sigmoid(net.maskHead(levels, rois, mode));
    const m = masks.shape[1];
    const fg = probs[1] + probs[2];
    const malignant = calibrate(fg > 0 ? probs[2] / fg : 0.5, net.config.calibration);
    return { box, score: 1 - probs[0], benign: 1 - malignant, malignant, mask: (masks.dataSync() as Float32Array).slice(0, m * m), maskSize: m };
  } finally {
    tf.engine().endScope();
  }
}
