import { parentPort, workerData } from 'node:worker_threads';
import type { BackendPreference } from './backend.js';
import type { ModelTrust } from './weights_io.js';
import { LesionModel } from './predictor.js';

/**
 * Runs the network on its own thread: wasm in Node is single-threaded, so inference here leaves the
 * main thread's core to capture, quality gate, contours and MQTT.
 */
interface Init {
  modelDir: string;
  backend: BackendPreference;
  trust?: ModelTrust;
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

LesionModel.load(init.modelDir, init.backend, undefined, undefined, undefined, init.trust).then(
  (model) => {
    port.postMessage({ type: 'ready', identity: model.identity, signature: model.integrity.signature, skipped: model.backend.skipped, provider: model.backend.provider });
    port.on('message', (req: Request | { type: 'stats'; id: number }) => {
      if ('type' in req) {
        port.postMessage({ type: 'stats', id: req.id, memory: LesionModel.memory() });
        return;
      }
      try {
        const r = model.inferRgb(req.data, req.width, req.height);
        const transfer = r.detections.map((d) => d.mask.data.buffer as ArrayBuffer);
        port.postMessage({ type: 'result', id: req.id, detections: r.detections, timings: r.timings }, transfer);
      } catch (err) {
        port.postMessage({ type: 'error', id: req.id, message: (err as Error).message });
      }
    });
  },
  (err: Error) => port.postMessage({ type: 'fatal', message: err.message }),
);
