import type { Detection } from '../types/detection.js';
import { detect, type RawDetection } from './detect.js';
import { headsAtBox } from './heads_at_box.js';
import { letterboxTensor } from './letterbox.js';
import type { LesionNet } from './network.js';
import { pasteMask } from './paste_mask.js';

export interface RefineOptions {
  /** Context added on each side of the detected box, as a fraction of its longer side. */
  margin: number;
  /** Which malignant score to report: the full frame's, the crop's, or their mean. */
  classify: 'coarse' | 'crop' | 'mean';
  /**
   * 'box': the mask (and class) heads on the coarse box over the crop's features — the box stays,
   * only the pixels behind it are finer. 'redetect': the whole detector on the crop, its top
   * detection replacing the coarse one (it can lock onto a part of the lesion: measured worse).
   */
  mode?: 'box' | 'redetect';
  /** Box mode: also run the mirrored crop and average (flip test-time augmentation; a batch of 2). */
  flip?: boolean;
}

/** Integer pixel rectangle [x0, y0) – [x1, y1) inside the frame. */
export interface Crop {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * A square window centred on the box, its side the box's longer side plus `margin` of it on each
 * side, moved (not shrunk) to stay inside the frame where it fits, clipped where it does not.
 * Square, so the letterboxed crop fills the network input and the lesion gets the most pixels.
 */
export function refineCrop(box: ArrayLike<number>, width: number, height: number, margin: number): Crop {
  const side = Math.max(box[2] - box[0], box[3] - box[1], 1) * (1 + 2 * margin);
  const place = (centre: number, extent: number): [number, number] => {
    if (side >= extent) return [0, extent];
    const lo = Math.min(Math.max(centre - side / 2, 0), extent - side);
    return [Math.floor(lo), Math.min(extent, Math.ceil(lo + side))];
  };
  const [x0, x1] = place((box[0] + box[2]) / 2, width);
  const [y0, y1] = place((box[1] + box[3]) / 2, height);
  return { x0, y0, x1, y1 };
}

export function cropRgb(rgb: Uint8Array, width: number, c: Crop): Uint8Array {
  const w = c.x1 - c.x0;
  const out = new Uint8Array(w * (c.y1 - c.y0) * 3);
  for (let y = c.y0; y < c.y1; y++) out.set(rgb.subarray((y * width + c.x0) * 3, (y * width + c.x1) * 3), (y - c.y0) * w * 3);
  return out;
}

/**
 * Coarse-to-fine segmentation: the network re-run on a crop of the frame around the detected lesion,
 * so a lesion that covered a few dozen input pixels now covers most of the input; its mask is pasted
 * back in frame pixels. One extra backbone pass per detection (see RefineOptions.mode).
 */
export function refineDetection(net: LesionNet, rgb: Uint8Array, width: number, height: number, coarse: Detection, opts: RefineOptions, maskThreshold: number): Detection {
  const c = refineCrop(coarse.box, width, height, opts.margin);
  const cw = c.x1 - c.x0;
  const ch = c.y1 - c.y0;
  if (cw < 2 || ch < 2) return coarse;
  const s = net.config.inputSize;
  const { input, geometry } = letterboxTensor(cropRgb(rgb, width, c), cw, ch, s, net.config.channelMeans);
  let d: RawDetection | undefined;
  try {
    if ((opts.mode ?? 'box') === 'box') {
      const g = geometry.scale;
      d = headsAtBox(net, input, Float32Array.from([(coarse.box[0] - c.x0) * g, (coarse.box[1] - c.y0) * g, (coarse.box[2] - c.x0) * g, (coarse.box[3] - c.y0) * g]), opts.flip ?? false);
    } else d = detect(net, input)[0];
  } finally {
    input.dispose();
  }
  if (!d) return coarse;
  const inv = 1 / geometry.scale;
  const box: [number, number, number, number] = [
    Math.min(Math.max(c.x0 + d.box[0] * inv, 0), width),
    Math.min(Math.max(c.y0 + d.box[1] * inv, 0), height),
    Math.min(Math.max(c.x0 + d.box[2] * inv, 0), width),
    Math.min(Math.max(c.y0 + d.box[3] * inv, 0), height),
  ];
  const malignant = opts.classify === 'coarse' ? coarse.probabilities.malignant : opts.classify === 'crop' ? d.malignant : (coarse.probabilities.malignant + d.malignant) / 2;
  return {
    box,
    score: coarse.score,
    probabilities: { benign: 1 - malignant, malignant },
    mask: pasteMask(box, d.mask, d.maskSize, width, height, maskThreshold),
  };
}
