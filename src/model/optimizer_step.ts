import * as tf from '@tensorflow/tfjs-core';
import type { Mode } from './layers.js';
import type { LesionNet } from './network.js';
import { batchLoss, type LossParts, type LossWeights, type TrainSample, DEFAULT_LOSS_WEIGHTS } from './train_step.js';

export interface StepResult {
  parts: LossParts;
  gradNorm: number;
}

/** Batch statistics of one batch-norm layer, as plain arrays so they can cross threads. */
export interface BnStats {
  name: string;
  mean: Float32Array;
  variance: Float32Array;
}

/** Gradients of the loss for one (part of a) batch, in the order of `net.params.trainableSorted()`. */
export interface Gradients {
  grads: tf.Tensor[];
  parts: LossParts;
  bn: BnStats[];
}

export function computeGradients(net: LesionNet, x: tf.Tensor4D, samples: TrainSample[], rand: () => number, weights: LossWeights = DEFAULT_LOSS_WEIGHTS): Gradients {
  const mode: Mode = { training: true, bnUpdates: [] };
  let kept: Record<string, tf.Scalar> = {};
  const sorted = net.params.trainableSorted();
  const { total, grads } = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const { total, parts } = batchLoss(net, x, samples, mode, rand, weights);
      kept = Object.fromEntries(Object.entries(parts).filter(([k]) => k !== 'total').map(([k, v]) => [k, tf.keep(v)]));
      return total;
    }, sorted.map(([, v]) => v));
    return { total: value.dataSync()[0], grads: sorted.map(([, v]) => grads[v.name]) };
  });
  const parts = { ...Object.fromEntries(Object.entries(kept).map(([k, v]) => [k, v.dataSync()[0]])), total } as unknown as LossParts;
  for (const v of Object.values(kept)) v.dispose();
  const bn = (mode.bnUpdates ?? []).map((u) => {
    const s = { name: u.name, mean: u.mean.dataSync() as Float32Array, variance: u.variance.dataSync() as Float32Array };
    u.mean.dispose();
    u.variance.dispose();
    return s;
  });
  return { grads, parts, bn };
}

/**
 * Global-norm clipping (from-scratch detectors spike early) and the optimizer update. Disposes `grads`.
 * Returns the norm before clipping; a non-finite norm skips the update instead of poisoning the weights.
 */
export function applyGradients(net: LesionNet, optimizer: tf.Optimizer, grads: tf.Tensor[], clipNorm = 10): number {
  const sorted = net.params.trainableSorted();
  const gradNorm = tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))).dataSync()[0];
    const scale = Number.isFinite(norm) && norm > clipNorm ? clipNorm / norm : 1;
    if (Number.isFinite(norm)) {
      optimizer.applyGradients(Object.fromEntries(sorted.map(([, v], i) => [v.name, scale === 1 ? grads[i] : tf.mul(grads[i], scale)])));
    }
    return norm;
  });
  for (const g of grads) g.dispose();
  return gradNorm;
}

/** Moves the running batch-norm statistics towards the batch's (averaged over replicas when several). */
export function applyBnStats(net: LesionNet, replicas: BnStats[][], momentum = 0.9): void {
  const first = replicas[0] ?? [];
  first.forEach((s, i) => {
    tf.tidy(() => {
      const mean = tf.div(tf.addN(replicas.map((r) => tf.tensor1d(r[i].mean))), replicas.length);
      const variance = tf.div(tf.addN(replicas.map((r) => tf.tensor1d(r[i].variance))), replicas.length);
      const m = net.params.get(`${s.name}/mean`);
      const v = net.params.get(`${s.name}/variance`);
      m.assign(tf.add(tf.mul(m, momentum), tf.mul(mean, 1 - momentum)));
      v.assign(tf.add(tf.mul(v, momentum), tf.mul(variance, 1 - momentum)));
    });
  });
}

/** One optimisation step on one thread: gradients, clipping, update, batch-norm statistics. */
export function trainStep(net: LesionNet, optimizer: tf.Optimizer, x: tf.Tensor4D, samples: TrainSample[], rand: () => number, clipNorm = 10, weights: LossWeights = DEFAULT_LOSS_WEIGHTS): StepResult {
  const g = computeGradients(net, x, samples, rand, weights);
  const gradNorm = applyGradients(net, optimizer, g.grads, clipNorm);
  applyBnStats(net, [g.bn]);
  return { parts: g.parts, gradNorm };
}
