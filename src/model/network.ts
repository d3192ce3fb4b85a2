import * as tf from '@tensorflow/tfjs-core';
import { generateAnchors, LEVEL_STRIDES, type AnchorSet } from './anchors.js';
import { isResNet, type ModelConfig } from './config.js';
import { fpn, declareFpn } from './fpn.js';
import { boxHead, declareBoxHead, declareMaskHead, declareRpnHead, maskHead, rpnHead } from './heads.js';
import type { Mode } from './layers.js';
import { ParamStore } from './params.js';
import { declareMobileNetV2, frozenMobileNetV2Weights, mobileNetV2, mobileNetV2Channels } from './mobilenet_v2.js';
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
    this.freeze();
  }

  /** Pretrained layers the config keeps fixed are weights, not optimizer variables (also after loading). */
  private freeze(): void {
    const b = this.config.backbone;
    if (!isResNet(b)) this.params.freeze(frozenMobileNetV2Weights(b));
  }

  /** Creates every weight with its initial value (a no-op for weights already loaded). */
  declare(opts: { pretrained?: boolean } = {}): this {
    const p = this.params;
    const b = this.config.backbone;
    if (isResNet(b)) declareResNet(p, b);
    else declareMobileNetV2(p, { ...b, pretrained: b.pretrained && (opts.pretrained ?? true) });
    declareFpn(p, isResNet(b) ? backboneChannels(b) : mobileNetV2Channels(), this.config.fpnChannels);
    declareRpnHead(p, this.config, this.anchors.perLocation);
    declareBoxHead(p, this.config);
    declareMaskHead(p, this.config);
    this.freeze();
    return this;
  }

  /** Input: letterboxed, mean-subtracted images [B, S, S, 3]. Returns P2..P5. */
  features(x: tf.Tensor4D, mode: Mode): tf.Tensor4D[] {
    const b = this.config.backbone;
    return fpn(this.params, mode, isResNet(b) ? resnet(this.params, mode, b, x) : mobileNetV2(this.params, mode, this.config.channelMeans, x));
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
