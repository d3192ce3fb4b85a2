import * as tf from '@tensorflow/tfjs-core';
import { calibrate } from './calibration.js';
import type { RawDetection } from './detect.js';
import type { LesionNet } from './network.js';

/**
 * The classify and segment subnets on a given box (network-input pixels), skipping the RPN and NMS:
 * the box is already known (from the coarse pass), only its features are new. With `flip`, the input
 * mirrored left–right runs as a second batch item with the mirrored box, and its mask (mirrored back)
 * and class probabilities are averaged with the first's (flip test-time augmentation; the network
 * trained with flips of the whole letterboxed image, padding side included). Input [1, S, S, 3];
 * every intermediate tensor is freed before returning.
 */
export function headsAtBox(net: LesionNet, input: tf.Tensor4D, box: Float32Array, flip = false): RawDetection {
  const mode = { training: false };
  const s = net.config.inputSize;
  tf.engine().startScope();
  try {
    const x = flip ? (tf.concat([input, tf.reverse(input, 2)], 0) as tf.Tensor4D) : input;
    const levels = net.features(x, mode);
    const rois = [{ batch: 0, box }];
    if (flip) rois.push({ batch: 1, box: Float32Array.from([s - box[2], box[1], s - box[0], box[3]]) });
    const probs = tf.softmax(net.boxHead(levels, rois).classLogits).dataSync();
    const masks = tf.sigmoid(net.maskHead(levels, rois, mode));
    const m = masks.shape[1];
    const all = masks.dataSync() as Float32Array;
    const mask = all.slice(0, m * m);
    let [bg, benign, mal] = [probs[0], probs[1], probs[2]];
    if (flip) {
      for (let y = 0; y < m; y++) for (let xx = 0; xx < m; xx++) mask[y * m + xx] = (mask[y * m + xx] + all[m * m + y * m + (m - 1 - xx)]) / 2;
      [bg, benign, mal] = [(bg + probs[3]) / 2, (benign + probs[4]) / 2, (mal + probs[5]) / 2];
    }
    const fg = benign + mal;
    const malignant = calibrate(fg > 0 ? mal / fg : 0.5, net.config.calibration);
    return { box, score: 1 - bg, benign: 1 - malignant, malignant, mask, maskSize: m };
  } finally {
    tf.engine().endScope();
  }
}
