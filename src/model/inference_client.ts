import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Detection, Inference } from '../types/detection.js';
import type { Frame } from '../types/frame.js';
import { frameInfo } from '../types/frame.js';
import type { BackendPreference } from './backend.js';
import type { EngineName, EngineOptions } from './engine.js';
import type { ModelIdentity } from './predictor.js';
import type { SignatureCheck } from './manifest_signature.js';
import type { ModelTrust } from './weights_io.js';

/** Engine choice for the worker (model.engine, model.onnx.* in the config). */
export type InferenceEngineOptions = Pick<EngineOptions, 'engine' | 'onnx'>;

export interface InferenceClient {
  identity: ModelIdentity;
  /** What the loader found of the manifest's signature. */
  signature: SignatureCheck;
  /** Which engine runs the network (tfjs or onnx); identity.backend says which backend/provider. */
  engine: EngineName;
  backendSkipped: string[];
  infer(frame: Frame): Promise<Inference>;
  /** Tensors and bytes held by the backend in the worker (a leak shows here first). */
  memory(): Promise<{ numTensors: number; numBytes: number }>;
  close(): Promise<void>;
}

export class InferenceWorkerError extends Error {}

function createWorker(data: unknown): Worker {
  const js = new URL('./inference_worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: data });
  // Running from TypeScript sources (tests, tsx): load the worker through tsx's API, since loader flags
  // given to a worker's execArgv do not apply on Node 20.
  const ts = fileURLToPath(new URL('./inference_worker.ts', import.meta.url));
  const boot = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(ts)}, ${JSON.stringify(import.meta.url)})).catch((e) => { throw e; });`;
  return new Worker(boot, { eval: true, workerData: data });
}

/**
 * Starts the network in a worker thread. Frames are copied into the worker (the caller may reuse its
 * buffer); masks come back as transferred buffers. A crashed worker rejects every pending request and
 * every later call, with the reason.
 */
export function startInferenceWorker(modelDir: string, backend: BackendPreference = 'auto', engine: InferenceEngineOptions = {}, trust: ModelTrust = {}): Promise<InferenceClient> {
  const worker = createWorker({ modelDir, backend, engine, trust });
  const pending = new Map<number, { resolve: (v: Inference) => void; reject: (e: Error) => void; frame: Frame }>();
  const statsPending = new Map<number, (m: { numTensors: number; numBytes: number }) => void>();
  let nextId = 1;
  let dead: Error | null = null;
  const failAll = (err: Error) => {
    dead ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  return new Promise((resolveStart, rejectStart) => {
    worker.on('error', (err) => {
      const e = new InferenceWorkerError(`inference worker crashed: ${err.message}`);
      failAll(e);
      rejectStart(e);
    });
    worker.on('exit', (code) => {
      const e = new InferenceWorkerError(`inference worker exited (code ${code})`);
      failAll(e);
      rejectStart(e);
    });
    worker.on('message', (msg: { type: string; id?: number; message?: string; identity?: ModelIdentity; signature?: SignatureCheck; skipped?: string[]; engine?: EngineName; detections?: Detection[]; timings?: Inference['timings'] }) => {
      if (msg.type === 'fatal') {
        rejectStart(new InferenceWorkerError(msg.message ?? 'model failed to load'));
        void worker.terminate();
        return;
      }
      if (msg.type === 'ready') {
        resolveStart({
          identity: msg.identity as ModelIdentity,
          signature: msg.signature ?? { status: 'unsigned' },
          engine: msg.engine ?? 'tfjs',
          backendSkipped: msg.skipped ?? [],
          infer(frame: Frame): Promise<Inference> {
            if (dead) return Promise.reject(dead);
            const id = nextId++;
            return new Promise((resolve, reject) => {
              pending.set(id, { resolve, reject, frame });
              worker.postMessage({ id, seq: frame.seq, width: frame.width, height: frame.height, data: frame.data });
            });
          },
          memory() {
            if (dead) return Promise.reject(dead);
            const id = nextId++;
            return new Promise((resolve) => {
              statsPending.set(id, resolve);
              worker.postMessage({ type: 'stats', id });
            });
          },
          async close() {
            failAll(new InferenceWorkerError('inference worker closed'));
            await worker.terminate();
          },
        });
        return;
      }
      if (msg.type === 'stats') {
        statsPending.get(msg.id as number)?.((msg as unknown as { memory: { numTensors: number; numBytes: number } }).memory);
        statsPending.delete(msg.id as number);
        return;
      }
      const p = msg.id !== undefined ? pending.get(msg.id) : undefined;
      if (!p) return;
      pending.delete(msg.id as number);
      if (msg.type === 'error') p.reject(new Error(msg.message));
      else p.resolve({ frame: frameInfo(p.frame), detections: msg.detections ?? [], timings: msg.timings as Inference['timings'] });
    });
  });
}
