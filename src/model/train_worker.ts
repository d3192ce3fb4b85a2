import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendPreference } from './backend.js';
import type { ModelConfig } from './config.js';
import { normalizeLetterboxed } from './letterbox.js';
import { LesionNet } from './network.js';
import { computeGradients } from './optimizer_step.js';
import { rng } from './targets.js';
import type { TrainSample } from './train_step.js';

/**
 * A data-parallel replica: wasm runs one thread per Node thread, so a second replica is how training
 * uses the second core. Each step it receives the current weights and half of the batch, and returns
 * that half's gradients and batch-norm statistics.
 */
interface Init {
  config: ModelConfig;
  backend: BackendPreference;
}

export interface ReplicaRequest {
  weights: Float32Array[];
  samples: TrainSample[];
  seed: number;
}

const port = parentPort;
if (!port) throw new Error('train_worker must run as a worker thread');
const init = workerData as Init;

await selectBackend(init.backend);
const net = new LesionNet(init.config).declare();
const sorted = net.params.trainableSorted();
const s = init.config.inputSize;
port.postMessage({ type: 'ready' });
port.on('message', (req: ReplicaRequest) => {
  try {
    sorted.forEach(([, v], i) => tf.tidy(() => v.assign(tf.tensor(req.weights[i], v.shape))));
    const batch = new Uint8Array(req.samples.length * s * s * 3);
    req.samples.forEach((smp, i) => batch.set(smp.image, i * s * s * 3));
    const x = normalizeLetterboxed(batch, req.samples.length, s, init.config.channelMeans);
    const g = computeGradients(net, x, req.samples, rng(req.seed));
    x.dispose();
    const grads = g.grads.map((t) => {
      const d = t.dataSync() as Float32Array;
      t.dispose();
      return d;
    });
    port.postMessage({ type: 'grads', grads, parts: g.parts, bn: g.bn }, grads.map((d) => d.buffer as ArrayBuffer));
  } catch (err) {
    port.postMessage({ type: 'error', message: (err as Error).stack ?? (err as Error).message });
  }
});
