import { parentPort, workerData } from 'node:worker_threads';
import type { BackendPreference } from './backend.js';
import type { ModelTrust } from './weights_io.js';
import { loadEngine } from './engine.js';
import type { InferenceEngineOptions } from './inference_client.js';
import { LesionModel } from './predictor.js';

/**
 * Runs the network on its own thread: wasm in Node is single-threaded, and ONNX Runtime's session.run blocks
 * the calling thread while its intra-op pool works, so inference here leaves the main thread's core to
 * capture, quality gate, contours and MQTT.
 */
interface Init {
  modelDir: string;
  backend: BackendPreference;
  trust?: ModelTrust;
  engine?: InferenceEngineOptions;
}

interface Request {
  id: number;
  seq: number;
  width: number;
  height: number;
  data: Uint8Array;
}

const port = parentPort;
if (!port) throw new Error('inference_worker must run as a worker thread');
const init = workerData as Init;

loadEngine(init.modelDir, { ...init.engine, backend: init.backend, trust: init.trust }).then(
  (model) => {
    port.postMessage({ type: 'ready', identity: model.identity, engine: model.engine, signature: model.signature, skipped: model.skipped });
    // Requests are served one at a time: the pipeline's latest-only stage never has two in flight, and
    // ONNX Runtime's sessions are not to be re-entered from one thread while a run is pending.
    let queue: Promise<void> = Promise.resolve();
    port.on('message', (req: Request | { type: 'stats'; id: number }) => {
      if ('type' in req) {
        port.postMessage({ type: 'stats', id: req.id, memory: LesionModel.memory() });
        return;
      }
      queue = queue.then(async () => {
        try {
          const r = await model.inferRgb(req.data, req.width, req.height);
          const transfer = r.detections.map((d) => d.mask.data.buffer as ArrayBuffer);
          port.postMessage({ type: 'result', id: req.id, detections: r.detections, timings: r.timings }, transfer);
        } catch (err) {
          port.postMessage({ type: 'error', id: req.id, message: (err as Error).message });
        }
      });
    });
  },
  (err: Error) => port.postMessage({ type: 'fatal', message: err.message }),
);
