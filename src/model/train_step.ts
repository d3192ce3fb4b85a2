import * as tf from '@tensorflow/tfjs-core';
import type { Mode } from './layers.js';
import { bceWithLogits, jaccardDistance, sigmoidFocalLoss, smoothL1, softmaxFocalLoss } from './losses.js';
import type { LesionNet } from './network.js';
import { proposals } from './proposals.js';
import { roiAlign } from './roi_align.js';
import { anchorTargets, roiTargets } from './targets.js';

/** One training image after augmentation, letterboxed to the input size. */
export interface TrainSample {
  /** RGB bytes [S, S, 3]. */
  image: Uint8Array;
  /** Lesion mask bytes [S, S], 1 = lesion. */
  mask: Uint8Array;
  /** Tight box of the mask, or null when the lesion left the view. */
  box: Float32Array | null;
  /** 0 benign, 1 malignant. */
  label: 0 | 1;
}

export interface LossWeights {
  rpnRegression: number;
  /** Focal weights per head class (background, benign, malignant). */
  classWeights: [number, number, number];
}

/** ρ = 10 on the RPN regression term (the paper); malignant weighted up in the class head's focal loss. */
export const DEFAULT_LOSS_WEIGHTS: LossWeights = { rpnRegression: 10, classWeights: [1, 1, 2] };

export interface LossParts {
  rpnClass: number;
  rpnBox: number;
  headClass: number;
  headBox: number;
  maskBce: number;
  maskJaccard: number;
  total: number;
}

/**
 * The paper's total loss for a batch: RPN (focal + ρ·smooth L1) + classify (focal softmax) + detect
 * (smooth L1) + segment (BCE + smoothed Jaccard). Targets are built in JS from the RPN's current outputs.
 * Returns the scalar to differentiate and the parts as tensors (read after the step).
 */
export function batchLoss(net: LesionNet, x: tf.Tensor4D, samples: TrainSample[], mode: Mode, rand: () => number, w: LossWeights = DEFAULT_LOSS_WEIGHTS): { total: tf.Scalar; parts: Record<keyof LossParts, tf.Scalar> } {
  const cfg = net.config;
  const s = cfg.inputSize;
  const b = samples.length;
  const n = net.anchors.count;
  const levels = net.features(x, mode);
  const rpn = net.rpn(levels, mode);

  // RPN targets: dense [B, N] weights so no gather (whose gradient wasm lacks) is needed.
  const labels = new Float32Array(b * n);
  const weights = new Float32Array(b * n);
  const positive = new Float32Array(b * n);
  const rdeltas = new Float32Array(b * n * 4);
  samples.forEach((smp, i) => {
    const t = anchorTargets(net.anchors, smp.box, cfg.rpn.positiveIoU, cfg.rpn.negativeIoU, cfg.rpn.sampledAnchors, rand);
    labels.set(t.labels, i * n);
    weights.set(t.weights, i * n);
    positive.set(t.positive, i * n);
    rdeltas.set(t.deltas, i * n * 4);
  });
  // Normalised by the positives, as RetinaNet (where the paper took the focal loss from): a few positive
  // anchors among hundreds of easy negatives would otherwise leave the RPN with almost no signal.
  const numPos = Math.max(1, positive.reduce((a, v) => a + v, 0));
  const rpnClass = tf.div(tf.sum(tf.mul(sigmoidFocalLoss(rpn.logits, tf.tensor2d(labels, [b, n])), tf.tensor2d(weights, [b, n]))), numPos) as tf.Scalar;
  const rpnBox = tf.div(
    tf.sum(tf.mul(smoothL1(rpn.deltas, tf.tensor3d(rdeltas, [b, n, 4]), 1 / 9), tf.tensor3d(positive, [b, n, 1]))),
    4 * numPos,
  ) as tf.Scalar;

  // Head RoIs from the RPN's own proposals plus the ground truth (Mask R-CNN training).
  const logitsData = rpn.logits.dataSync() as Float32Array;
  const deltaData = rpn.deltas.dataSync() as Float32Array;
  const rois: Array<{ batch: number; box: Float32Array }> = [];
  const classes: number[] = [];
  const headDeltas: number[] = [];
  const headPositive: number[] = [];
  const maskRois: Array<{ batch: number; box: Float32Array }> = [];
  samples.forEach((smp, i) => {
    const props = proposals(net.anchors, logitsData.subarray(i * n, (i + 1) * n), deltaData.subarray(i * n * 4, (i + 1) * n * 4), s, cfg.rpn.preNmsTopK, cfg.rpn.postNmsTopK, cfg.rpn.nmsIoU);
    const t = roiTargets(props.boxes, smp.box, smp.label + 1, cfg.roi.sampledRois, cfg.roi.positiveFraction, s, rand);
    t.boxes.forEach((box, j) => {
      rois.push({ batch: i, box });
      classes.push(t.classes[j]);
      for (let k = 0; k < 4; k++) headDeltas.push(t.deltas[j * 4 + k]);
      const pos = t.positive.includes(j);
      headPositive.push(pos ? 1 : 0);
      if (pos) maskRois.push({ batch: i, box });
    });
  });
  const r = rois.length;
  const head = net.boxHead(levels, rois);
  const oneHot = tf.oneHot(tf.tensor1d(classes, 'int32'), 3).toFloat() as tf.Tensor2D;
  const headClass = tf.mean(softmaxFocalLoss(head.classLogits, oneHot, w.classWeights)) as tf.Scalar;
  const nPos = Math.max(1, headPositive.reduce((a, v) => a + v, 0));
  const headBox = tf.div(
    tf.sum(tf.mul(smoothL1(head.deltas, tf.tensor2d(headDeltas, [r, 4]), 1), tf.tensor2d(headPositive, [r, 1]))),
    nPos,
  ) as tf.Scalar;

  let maskBce: tf.Scalar = tf.scalar(0);
  let maskJaccard: tf.Scalar = tf.scalar(0);
  if (maskRois.length > 0) {
    const logits = net.maskHead(levels, maskRois, mode);
    const m = logits.shape[1];
    // Targets: the ground-truth mask resampled into each RoI with the same RoI-align geometry, thresholded.
    const gtMasks = tf.tensor4d(concatMasks(samples), [b, s, s, 1]);
    const targets = tf.greaterEqual(roiAlign([gtMasks], [1], maskRois, () => 0, m, 2), 0.5).toFloat().reshape([maskRois.length, m, m]) as tf.Tensor3D;
    maskBce = tf.mean(bceWithLogits(logits, targets)) as tf.Scalar;
    maskJaccard = tf.mean(jaccardDistance(tf.sigmoid(logits) as tf.Tensor3D, targets)) as tf.Scalar;
  }
  const total = tf.addN([rpnClass, tf.mul(rpnBox, w.rpnRegression), headClass, headBox, maskBce, maskJaccard]) as tf.Scalar;
  return { total, parts: { rpnClass, rpnBox, headClass, headBox, maskBce, maskJaccard, total } };
}

function concatMasks(samples: TrainSample[]): Float32Array {
  const len = samples[0].mask.length;
  const out = new Float32Array(samples.length * len);
  samples.forEach((smp, i) => {
    for (let k = 0; k < len; k++) out[i * len + k] = smp.mask[k];
  });
  return out;
}
