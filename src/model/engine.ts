import type { Detection, Inference } from '../types/detection.js';
import { selectBackend, type BackendPreference } from './backend.js';
import type { ModelConfig } from './config.js';
import { OnnxLesionModel, onnxUnavailableReason, type OrtOptions } from './onnx/ort_model.js';
import { LesionModel, type ModelIdentity } from './predictor.js';
import type { SignatureCheck } from './manifest_signature.js';
import { readVerifiedModel, type Manifest, type ModelTrust } from './weights_io.js';

export const ENGINES = ['auto', 'tfjs', 'onnx'] as const;
export type EnginePreference = (typeof ENGINES)[number];
export type EngineName = Exclude<EnginePreference, 'auto'>;

export interface EngineOptions {
  /** auto = ONNX Runtime when the model has current ONNX graphs and the runtime loads, else tfjs. */
  engine?: EnginePreference;
  /** tfjs backend (the tfjs engine's network, and both engines' letterbox). */
  backend?: BackendPreference;
  onnx?: OrtOptions;
  inputSize?: number;
  detection?: Partial<ModelConfig['detection']>;
  calibration?: ModelConfig['calibration'];
  /** Trusted signing keys and whether a signature is required (model.trustedKeys, model.requireSignature). */
  trust?: ModelTrust;
}

/** What every inference engine offers the worker, eval and the benchmarks. */
export interface LesionEngine {
  readonly engine: EngineName;
  readonly identity: ModelIdentity;
  readonly config: ModelConfig;
  readonly manifest: Manifest;
  /** What the loader found of the manifest's signature. */
  readonly signature: SignatureCheck;
  /** Why a preferred engine or backend was skipped, for the log. */
  readonly skipped: string[];
  inferRgb(rgb: Uint8Array, width: number, height: number): Promise<{ detections: Detection[]; timings: Inference['timings'] }>;
  dispose(): Promise<void>;
}

function tfjsEngine(model: LesionModel, skipped: string[]): LesionEngine {
  return {
    engine: 'tfjs',
    identity: model.identity,
    config: model.net.config,
    manifest: model.manifest,
    signature: model.integrity.signature,
    skipped: [...skipped, ...model.backend.skipped],
    inferRgb: (rgb, w, h) => Promise.resolve(model.inferRgb(rgb, w, h)),
    dispose: () => Promise.resolve(model.dispose()),
  };
}

function onnxEngine(model: OnnxLesionModel, skipped: string[]): LesionEngine {
  return {
    engine: 'onnx',
    identity: model.identity,
    config: model.config,
    manifest: model.manifest,
    signature: model.integrity.signature,
    skipped,
    inferRgb: (rgb, w, h) => model.inferRgb(rgb, w, h),
    dispose: () => model.dispose(),
  };
}

/**
 * Loads a model on the chosen engine. `auto` tries ONNX Runtime first and falls back to tfjs with the reason
 * recorded; a forced engine that cannot start is an error naming the cause and the alternative.
 */
export async function loadEngine(dir: string, opts: EngineOptions = {}): Promise<LesionEngine> {
  const pref = opts.engine ?? 'auto';
  if (!ENGINES.includes(pref)) throw new Error(`engine '${String(pref)}' is not one of ${ENGINES.join(', ')}`);
  await selectBackend(opts.backend ?? 'auto');
  const skipped: string[] = [];
  if (pref !== 'tfjs') {
    const reason = onnxUnavailableReason(readVerifiedModel(dir, opts.trust).manifest);
    if (reason && pref === 'onnx') throw new Error(`--engine onnx: ${dir}: ${reason}; or use --engine tfjs`);
    if (reason) skipped.push(`onnx: ${reason}`);
    else {
      try {
        return onnxEngine(await OnnxLesionModel.load(dir, { ...opts.onnx, inputSize: opts.inputSize, detection: opts.detection, calibration: opts.calibration, trust: opts.trust }), skipped);
      } catch (err) {
        if (pref === 'onnx') throw new Error(`--engine onnx: ONNX Runtime could not run ${dir}: ${(err as Error).message}; reinstall with \`npm ci\` or use --engine tfjs`);
        skipped.push(`onnx: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  return tfjsEngine(await LesionModel.load(dir, opts.backend ?? 'auto', opts.inputSize, opts.detection, opts.calibration, opts.trust), skipped);
}
