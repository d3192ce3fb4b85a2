import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendPreference } from './backend.js';
import type { ModelConfig } from './config.js';
import type { LesionNet } from './network.js';
import type { BnStats } from './optimizer_step.js';
import type { LossParts, TrainSample } from './train_step.js';

export interface ReplicaResult {
  grads: Float32Array[];
  parts: LossParts;
  bn: BnStats[];
}

export interface Replica {
  step(net: LesionNet, samples: TrainSample[], seed: number): Promise<ReplicaResult>;
  close(): Promise<void>;
}

function spawn(data: unknown): Worker {
  const js = new URL('./train_worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: data });
  const ts = fileURLToPath(new URL('./train_worker.ts', import.meta.url));
  return new Worker(`import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(ts)}, ${JSON.stringify(import.meta.url)}));`, { eval: true, workerData: data });
}

/** Starts a training replica on another thread (see train_worker.ts). */
export function startReplica(config: ModelConfig, backend: BackendPreference): Promise<Replica> {
  const worker = spawn({ config, backend });
  let pending: { resolve: (r: ReplicaResult) => void; reject: (e: Error) => void } | null = null;
  return new Promise((resolveStart, rejectStart) => {
    worker.on('error', (err) => {
      pending?.reject(err);
      rejectStart(err);
    });
    worker.on('exit', (code) => {
      const e = new Error(`training replica exited (code ${code})`);
      pending?.reject(e);
      rejectStart(e);
    });
    worker.on('message', (msg: { type: string; message?: string } & Partial<ReplicaResult>) => {
      if (msg.type === 'ready') {
        resolveStart({
          step(net, samples, seed) {
            const weights = net.params.trainableSorted().map(([, v]) => (v.dataSync() as Float32Array).slice());
            return new Promise((resolve, reject) => {
              pending = { resolve, reject };
              worker.postMessage({ weights, samples, seed }, weights.map((w) => w.buffer as ArrayBuffer));
            });
          },
          async close() {
            await worker.terminate();
          },
        });
        return;
      }
      const p = pending;
      pending = null;
      if (msg.type === 'error') p?.reject(new Error(`training replica: ${msg.message}`));
      else p?.resolve({ grads: msg.grads as Float32Array[], parts: msg.parts as LossParts, bn: msg.bn as BnStats[] });
    });
  });
}

/** Averages this thread's gradients with a replica's (equal halves of the batch). Disposes `local`. */
export function averageGradients(local: tf.Tensor[], remote: Float32Array[]): tf.Tensor[] {
  return local.map((g, i) => {
    const avg = tf.tidy(() => tf.div(tf.add(g, tf.tensor(remote[i], g.shape)), 2));
    g.dispose();
    return avg;
  });
}
