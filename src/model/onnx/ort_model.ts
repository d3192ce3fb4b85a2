import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { Detection, Inference } from '../../types/detection.js';
import { LEVEL_STRIDES, generateAnchors, type AnchorSet } from '../anchors.js';
import type { ModelConfig } from '../config.js';
import type { RawDetection } from '../detect.js';
import { assembleDetections, decideDetections } from '../head_decode.js';
import { letterboxTensor } from '../letterbox.js';
import { toFrameDetection, type ModelIdentity } from '../predictor.js';
import { proposals } from '../proposals.js';
import { roiLevel } from '../roi_align.js';
import { ModelLoadError, modelIdentityOf, readVerifiedModel, type Manifest, type ModelIntegrity, type ModelTrust } from '../weights_io.js';
import { roiAlignNhwc, type FeatureLevel } from './roi_align_nhwc.js';

/** ONNX Runtime execution providers we name; only `cpu` ships in the npm package and is tested here. */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface OrtOptions {
  /** Intra-op threads; default leaves one core for capture and the pipeline (see defaultOrtThreads). */
  threads?: number;
  /** In order of preference; ORT falls back along the list. Default ['cpu']. */
  providers?: ExecutionProvider[];
  /**
   * Let idle intra-op threads spin-wait for work (ORT's default). Off by default here: a spinning thread takes
   * a core the capture and pipeline thread need on a 2-core machine (bench/engines.ts measures both).
   */
  spin?: boolean;
}

/**
 * Intra-op threads when not configured: all cores but one, at least one. The core left over runs capture, the
 * quality gate, contours and MQTT on the main thread (bench/pipeline.ts measures the choice; README).
 */
export function defaultOrtThreads(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

let ortModule: Promise<typeof Ort> | undefined;
/** onnxruntime-node, loaded on first use so a machine without its native binary still runs tfjs. */
export function loadOrt(): Promise<typeof Ort> {
  ortModule ??= import('onnxruntime-node').then((m) => ((m as unknown as { default?: typeof Ort }).default ?? m) as typeof Ort);
  return ortModule;
}

/** Why this model cannot run on ONNX Runtime, or undefined when its graphs are present and current. */
export function onnxUnavailableReason(manifest: Manifest): string | undefined {
  if (!manifest.onnx) return 'the model has no ONNX graphs (run `dermstream export --format onnx --model DIR`)';
  if (manifest.onnx.weightsSha256 !== manifest.weightsSha256) return `its ONNX graphs were exported from other weights (${manifest.onnx.weightsSha256.slice(0, 12)}…, model ${manifest.weightsSha256.slice(0, 12)}…): export again`;
  return undefined;
}

export interface OnnxLoadOptions extends OrtOptions {
  inputSize?: number;
  detection?: Partial<ModelConfig['detection']>;
  calibration?: ModelConfig['calibration'];
  /** Trusted signing keys and whether a signature is required (as for tfjs: the same verified folder). */
  trust?: ModelTrust;
}

/**
 * The inference API on ONNX Runtime: the exported dense graph and the two head graphs, with proposals, RoI
 * align and NMS in TypeScript (the code the tfjs path uses). Preprocessing is the tfjs letterbox, so both
 * engines see the same input tensor. `session.run` blocks its thread: run this inside inference_worker.
 */
export class OnnxLesionModel {
  private constructor(
    private readonly ort: typeof Ort,
    readonly config: ModelConfig,
    readonly manifest: Manifest,
    private readonly anchors: AnchorSet,
    private readonly sessions: { dense: Ort.InferenceSession; box: Ort.InferenceSession; mask: Ort.InferenceSession },
    readonly provider: string,
    readonly threads: number,
    readonly integrity: ModelIntegrity,
  ) {}

  static async load(dir: string, opts: OnnxLoadOptions = {}): Promise<OnnxLesionModel> {
    const { manifest, config: trained, bytes, integrity } = readVerifiedModel(dir, opts.trust);
    const reason = onnxUnavailableReason(manifest);
    if (reason || !manifest.onnx) throw new ModelLoadError(`model in ${dir} cannot run on ONNX Runtime: ${reason}`, 'export the ONNX graphs, or choose --engine tfjs');
    if (opts.inputSize && opts.inputSize % 32 !== 0) throw new Error(`input size ${opts.inputSize} must be a multiple of 32`);
    const config: ModelConfig = {
      ...trained,
      inputSize: opts.inputSize ?? trained.inputSize,
      detection: { ...trained.detection, ...opts.detection },
      calibration: opts.calibration ?? trained.calibration,
    };
    const ort = await loadOrt();
    const threads = opts.threads ?? defaultOrtThreads();
    const providers = opts.providers ?? ['cpu'];
    const options: Ort.InferenceSession.SessionOptions = {
      executionProviders: providers,
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: opts.spin ? '1' : '0' }, inter_op: { allow_spinning: '0' } } },
    };
    // The sessions are made from the bytes that were hashed and vouched for, not by reading the files again.
    const open = (file: string) => {
      const b = bytes.get(file);
      if (!b) throw new ModelLoadError(`${dir}/manifest.json does not list ${file}, so nothing vouches for it`, 'export the ONNX graphs again (dermstream export --format onnx)');
      return ort.InferenceSession.create(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), options);
    };
    const sessions = { dense: await open(manifest.onnx.dense), box: await open(manifest.onnx.boxHead), mask: await open(manifest.onnx.maskHead) };
    const anchors = generateAnchors(config.inputSize, config.anchors.sizes, config.anchors.scales, config.anchors.ratios);
    const model = new OnnxLesionModel(ort, config, manifest, anchors, sessions, providers.join('+'), threads, integrity);
    // The first run allocates the arena and picks kernels; do it before the first real frame.
    await model.inferRgb(new Uint8Array(64 * 48 * 3), 64, 48);
    return model;
  }

  get identity(): ModelIdentity {
    return modelIdentityOf(this.manifest, this.integrity, `onnxruntime-${this.provider}`);
  }

  /** The network on a letterboxed, normalised input [1, S, S, 3] (NHWC). */
  async detect(input: Float32Array): Promise<RawDetection[]> {
    const cfg = this.config;
    const s = cfg.inputSize;
    const T = this.ort.Tensor;
    const dense = await this.sessions.dense.run({ image: new T('float32', input, [1, s, s, 3]) });
    const props = proposals(this.anchors, dense.rpn_logits.data as Float32Array, dense.rpn_deltas.data as Float32Array, s, cfg.rpn.preNmsTopK, cfg.rpn.postNmsTopK, cfg.rpn.nmsIoU);
    if (props.boxes.length === 0) return [];
    const levels: FeatureLevel[] = ['p2', 'p3', 'p4', 'p5'].map((name, i) => {
      const t = dense[name];
      return { data: t.data as Float32Array, height: t.dims[1], width: t.dims[2], channels: t.dims[3], stride: LEVEL_STRIDES[i] };
    });
    const levelOf = (box: ArrayLike<number>) => roiLevel(box, s);
    const c = cfg.fpnChannels;
    const bp = cfg.roi.boxPool;
    const boxPooled = roiAlignNhwc(levels, props.boxes, levelOf, bp, cfg.roi.samplingRatio);
    const head = await this.sessions.box.run({ pooled: new T('float32', boxPooled, [props.boxes.length, bp, bp, c]) });
    const probs = head.class_probs.data as Float32Array;
    const decision = decideDetections(cfg, props.boxes, probs, head.box_deltas.data as Float32Array);
    if (decision.kept.length === 0) return [];
    const mp = cfg.roi.maskPool;
    const maskPooled = roiAlignNhwc(levels, decision.boxes, levelOf, mp, cfg.roi.samplingRatio);
    const masks = await this.sessions.mask.run({ pooled: new T('float32', maskPooled, [decision.boxes.length, mp, mp, c]) });
    return assembleDetections(cfg, decision, probs, masks.mask_probs.data as Float32Array, masks.mask_probs.dims[1]);
  }

  async inferRgb(rgb: Uint8Array, width: number, height: number): Promise<{ detections: Detection[]; timings: Inference['timings'] }> {
    const t0 = performance.now();
    const cfg = this.config;
    const { input, geometry } = letterboxTensor(rgb, width, height, cfg.inputSize, cfg.channelMeans);
    let data: Float32Array;
    try {
      data = input.dataSync() as Float32Array;
    } finally {
      input.dispose();
    }
    const t1 = performance.now();
    const raw = await this.detect(data);
    const t2 = performance.now();
    const detections = raw.map((d) => toFrameDetection(d, geometry, width, height, cfg.detection.maskThreshold));
    const t3 = performance.now();
    return { detections, timings: { preprocessMs: t1 - t0, inferMs: t2 - t1, postprocessMs: t3 - t2 } };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.sessions.dense.release(), this.sessions.box.release(), this.sessions.mask.release()]);
  }
}
