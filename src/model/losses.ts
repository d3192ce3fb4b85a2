import * as tf from '@tensorflow/tfjs-core';

/** Numerically stable binary cross-entropy on logits: max(x,0) − x·y + log(1 + e^−|x|). */
export function bceWithLogits(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.add(tf.sub(tf.relu(logits), tf.mul(logits, labels)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
}

/**
 * The paper's RPN classification loss (RetinaNet's focal loss): −α(1−p)^β log p for positives,
 * −(1−α)p^β log(1−p) for negatives; element-wise, unreduced.
 */
export function sigmoidFocalLoss(logits: tf.Tensor, labels: tf.Tensor, alpha = 0.25, beta = 2): tf.Tensor {
  const p = tf.sigmoid(logits);
  const pt = tf.add(tf.mul(p, labels), tf.mul(tf.sub(1, p), tf.sub(1, labels)));
  const at = tf.add(tf.mul(labels, alpha), tf.mul(tf.sub(1, labels), 1 - alpha));
  return tf.mul(tf.mul(at, tf.pow(tf.sub(1, pt), beta)), bceWithLogits(logits, labels));
}

/**
 * Multi-class focal loss on softmax logits [R, K] with integer labels: −α_y (1−p_y)^β log p_y.
 * The class head uses it for the same reason the paper uses it in the RPN: malignant lesions are rare.
 */
export function softmaxFocalLoss(logits: tf.Tensor2D, oneHot: tf.Tensor2D, classWeights: number[], beta = 2): tf.Tensor1D {
  const logp = tf.logSoftmax(logits);
  const logpy = tf.sum(tf.mul(logp, oneHot), 1);
  const py = tf.exp(logpy);
  const w = tf.sum(tf.mul(oneHot, tf.tensor1d(classWeights)), 1);
  return tf.neg(tf.mul(tf.mul(w, tf.pow(tf.sub(1, py), beta)), logpy)) as tf.Tensor1D;
}

/**
 * Smooth L1 (Huber with transition at `beta`), element-wise, as ½m²/β + (d − m) with m = min(d, β):
 * the same function without a comparison op, which has no gradient in tfjs.
 */
export function smoothL1(pred: tf.Tensor, target: tf.Tensor, beta = 1): tf.Tensor {
  const d = tf.abs(tf.sub(pred, target));
  const m = tf.minimum(d, beta);
  return tf.add(tf.div(tf.mul(0.5, tf.square(m)), beta), tf.sub(d, m));
}

/**
 * The paper's smoothed Jaccard distance per mask: 1 − (Σyŷ + δ)/(Σy + Σŷ − Σyŷ + δ), δ = 100.
 * `probs` and `targets` are [R, H, W]; returns [R].
 */
export function jaccardDistance(probs: tf.Tensor3D, targets: tf.Tensor3D, delta = 100): tf.Tensor1D {
  const inter = tf.sum(tf.mul(probs, targets), [1, 2]);
  const union = tf.sub(tf.add(tf.sum(probs, [1, 2]), tf.sum(targets, [1, 2])), inter);
  return tf.sub(1, tf.div(tf.add(inter, delta), tf.add(union, delta))) as tf.Tensor1D;
}
