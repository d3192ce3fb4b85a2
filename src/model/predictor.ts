import * as tf from '@tensorflow/tfjs-core';
import type { Frame } from '../types/frame.js';
import { frameInfo } from '../types/frame.js';
import type { Detection, Inference } from '../types/detection.js';
import { selectBackend, type BackendInfo, type BackendPreference } from './backend.js';
import { detect, type RawDetection } from './detect.js';
import { foldBatchNorms } from './layers.js';
import { letterboxTensor, type Letterbox } from './letterbox.js';
import { LesionNet } from './network.js';
import { pasteMask } from './paste_mask.js';
import { refineDetection } from './refine.js';
import { loadModel, modelIdentityOf, type Manifest, type ModelIntegrity, type ModelTrust } from './weights_io.js';

// src/types holds pure type contracts; it is the one import the house plan allows src/model outside itself.
import type { ModelIdentity } from '../types/model_identity.js';
export type { ModelIdentity } from '../types/model_identity.js';

/** Maps a detection from network-input pixels back to the frame: boxes by 1/scale, masks pasted at frame resolution. */
export function toFrameDetection(d: RawDetection, g: Letterbox, frameWidth: number, frameHeight: number, maskThreshold: number): Detection {
  const inv = 1 / g.scale;
  const box: [number, number, number, number] = [
    Math.min(Math.max(d.box[0] * inv, 0), frameWidth),
    Math.min(Math.max(d.box[1] * inv, 0), frameHeight),
    Math.min(Math.max(d.box[2] * inv, 0), frameWidth),
    Math.min(Math.max(d.box[3] * inv, 0), frameHeight),
  ];
  return {
    box,
    score: d.score,
    probabilities: { benign: d.benign, malignant: d.malignant },
    mask: pasteMask(box, d.mask, d.maskSize, frameWidth, frameHeight, maskThreshold),
  };
}

/**
 * The inference API: an RGB frame of any size in, detections in that frame's pixels out. Loading
 * verifies the model's hashes and folds batch norm into the convolutions.
 */
export class LesionModel {
  private constructor(
    readonly net: LesionNet,
    readonly manifest: Manifest,
    readonly backend: BackendInfo,
    readonly integrity: ModelIntegrity,
  ) {}

  /**
   * `inputSize` overrides the trained input size: the network is fully convolutional up to RoI align and
   * its anchors scale with the input, so the same weights trade speed for detail (see the README table).
   */
  static async load(dir: string, backend: BackendPreference = 'auto', inputSize?: number, detection?: Partial<LesionNet['config']['detection']>, calibration?: LesionNet['config']['calibration'], trust: ModelTrust = {}): Promise<LesionModel> {
    const b = await selectBackend(backend);
    const loaded = loadModel(dir, trust);
    const manifest = loaded.manifest;
    let net = loaded.net;
    if ((inputSize && inputSize !== net.config.inputSize) || detection || calibration) {
      if (inputSize && inputSize % 32 !== 0) throw new Error(`input size ${inputSize} must be a multiple of 32`);
      net = new LesionNet(
        { ...net.config, inputSize: inputSize ?? net.config.inputSize, detection: { ...net.config.detection, ...detection }, calibration: calibration ?? net.config.calibration },
        net.params,
      );
    }
    foldBatchNorms(net.params);
    const model = new LesionModel(net, manifest, b, loaded.integrity);
    // The first call compiles kernels and sizes buffers; do it before the first real frame.
    model.inferRgb(new Uint8Array(64 * 48 * 3), 64, 48);
    return model;
  }

  get identity(): ModelIdentity {
    return modelIdentityOf(this.manifest, this.integrity, this.backend.name);
  }

  inferRgb(rgb: Uint8Array, width: number, height: number): { detections: Detection[]; timings: Inference['timings'] } {
    const t0 = performance.now();
    const cfg = this.net.config;
    const { input, geometry } = letterboxTensor(rgb, width, height, cfg.inputSize, cfg.channelMeans);
    const t1 = performance.now();
    let raw: RawDetection[];
    try {
      raw = detect(this.net, input);
    } finally {
      input.dispose();
    }
    const t2 = performance.now();
    let detections = raw.map((d) => toFrameDetection(d, geometry, width, height, cfg.detection.maskThreshold));
    const t3 = performance.now();
    const refine = cfg.detection.refine;
    if (refine?.enabled) detections = detections.map((d) => refineDetection(this.net, rgb, width, height, d, refine, cfg.detection.maskThreshold));
    const t4 = performance.now();
    // The crop's forward pass is inference time; its letterbox and paste are a small part of it.
    return { detections, timings: { preprocessMs: t1 - t0, inferMs: t2 - t1 + (t4 - t3), postprocessMs: t3 - t2 } };
  }

  infer(frame: Frame): Inference {
    if (frame.format !== 'RGB') throw new Error(`frame ${frame.seq} is ${String(frame.format)}, the model takes RGB`);
    const { detections, timings } = this.inferRgb(frame.data, frame.width, frame.height);
    return { frame: frameInfo(frame), detections, timings };
  }

  dispose(): void {
    this.net.dispose();
  }

  static memory(): { numTensors: number; numBytes: number } {
    const m = tf.memory();
    return { numTensors: m.numTensors, numBytes: m.numBytes };
  }
}
