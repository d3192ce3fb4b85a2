import * as tf from '@tensorflow/tfjs-core';
import { applyBnUpdates, type Mode } from './layers.js';
import type { LesionNet } from './network.js';
import { batchLoss, type LossParts, type LossWeights, type TrainSample, DEFAULT_LOSS_WEIGHTS } from './train_step.js';

export interface StepResult {
  parts: LossParts;
  gradNorm: number;
}

/**
 * One optimisation step: loss and gradients (tf.variableGrads over the trainable weights), global-norm
 * clipping (from-scratch detectors spike early), the optimizer update, then batch-norm running stats.
 */
export function trainStep(net: LesionNet, optimizer: tf.Optimizer, x: tf.Tensor4D, samples: TrainSample[], rand: () => number, clipNorm = 10, weights: LossWeights = DEFAULT_LOSS_WEIGHTS): StepResult {
  const mode: Mode = { training: true, bnUpdates: [] };
  let kept: Record<string, tf.Scalar> = {};
  const vars = net.params.trainableSorted().map(([, v]) => v);
  const result = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const { total, parts } = batchLoss(net, x, samples, mode, rand, weights);
      kept = Object.fromEntries(Object.entries(parts).filter(([k]) => k !== 'total').map(([k, v]) => [k, tf.keep(v)]));
      return total;
    }, vars);
    const names = Object.keys(grads);
    const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n])))));
    const gradNorm = norm.dataSync()[0];
    const scale = Number.isFinite(gradNorm) && gradNorm > clipNorm ? clipNorm / gradNorm : 1;
    if (Number.isFinite(gradNorm)) {
      optimizer.applyGradients(Object.fromEntries(names.map((n) => [n, scale === 1 ? grads[n] : tf.mul(grads[n], scale)])));
    }
    return { gradNorm, total: value.dataSync()[0] };
  });
  applyBnUpdates(net.params, mode);
  const parts = { ...Object.fromEntries(Object.entries(kept).map(([k, v]) => [k, v.dataSync()[0]])), total: result.total } as unknown as LossParts;
  for (const v of Object.values(kept)) v.dispose();
  return { parts, gradNorm: result.gradNorm };
}
