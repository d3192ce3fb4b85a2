import * as tf from '@tensorflow/tfjs-core';
import { generateAnchors, LEVEL_STRIDES, type AnchorSet } from './anchors.js';
import type { ModelConfig } from './config.js';
import { fpn, declareFpn } from './fpn.js';
import { boxHead, declareBoxHead, declareMaskHead, declareRpnHead, maskHead, rpnHead } from './heads.js';
import type { Mode } from './layers.js';
import { ParamStore } from './params.js';
import { backboneChannels, declareResNet, resnet } from './resnet.js';
import { roiAlign, roiLevel, type Roi } from './roi_align.js';

/**
 * The multi-task network of the seed paper: ResNet → FPN (P2–P5) → RPN, then RoI align into the
 * classify/detect subnet (7×7) and the segment subnet (14×14 → 28×28 mask).
 */
export class LesionNet {
  readonly anchors: AnchorSet;

  constructor(
    readonly config: ModelConfig,
    readonly params: ParamStore = new ParamStore(),
  ) {
    this.anchors = generateAnchors(config.inputSize, config.anchors.sizes, config.anchors.scales, config.anchors.ratios);
  }

  /** Creates every weight with its initial value (a no-op for weights already loaded). */
  declare(): this {
    const p = this.params;
    declareResNet(p, this.config.backbone);
    declareFpn(p, backboneChannels(this.config.backbone), this.config.fpnChannels);
    declareRpnHead(p, this.config, this.anchors.perLocation);
    declareBoxHead(p, this.config);
    declareMaskHead(p, this.config);
    return this;
  }

  /** Input: letterboxed, mean-subtracted images [B, S, S, 3]. Returns P2..P5. */
  features(x: tf.Tensor4D, mode: Mode): tf.Tensor4D[] {
    return fpn(this.params, mode, resnet(this.params, mode, this.config.backbone, x));
  }

  rpn(levels: tf.Tensor4D[], mode: Mode): { logits: tf.Tensor2D; deltas: tf.Tensor3D } {
    return rpnHead(this.params, mode, levels);
  }

  pool(levels: tf.Tensor4D[], rois: Roi[], size: number): tf.Tensor4D {
    const s = this.config.inputSize;
    return roiAlign(levels, LEVEL_STRIDES, rois, (r) => roiLevel(r.box, s), size, this.config.roi.samplingRatio);
  }

  boxHead(levels: tf.Tensor4D[], rois: Roi[]): { classLogits: tf.Tensor2D; deltas: tf.Tensor2D } {
    return boxHead(this.params, this.pool(levels, rois, this.config.roi.boxPool));
  }

  maskHead(levels: tf.Tensor4D[], rois: Roi[], mode: Mode): tf.Tensor3D {
    return maskHead(this.params, mode, this.config, this.pool(levels, rois, this.config.roi.maskPool));
  }

  dispose(): void {
    this.params.dispose();
  }
}
