import type { FrameInfo } from './frame.js';

/** Box in pixel coordinates: [x1, y1, x2, y2], x2/y2 exclusive edges. */
export type Box = [number, number, number, number];

export interface ClassProbabilities {
  benign: number;
  malignant: number;
}

/** A binary mask covering `box` (rounded outward to whole pixels): `width*height` bytes, 1 = lesion. */
export interface BoxMask {
  /** Top-left pixel of the mask in frame coordinates. */
  x: number;
  y: number;
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Detection {
  box: Box;
  /** Objectness/detection confidence in [0, 1]. */
  score: number;
  probabilities: ClassProbabilities;
  mask: BoxMask;
}

export interface StageTimings {
  preprocessMs: number;
  inferMs: number;
  postprocessMs: number;
}

export interface Inference {
  frame: FrameInfo;
  detections: Detection[];
  timings: StageTimings;
}
