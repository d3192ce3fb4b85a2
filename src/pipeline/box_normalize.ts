import type { Box, BoxPair, Point } from '../types/index.js';

/**
 * Frame-pixel ↔ normalised [0, 1] coordinates. Pixel coordinates are continuous with pixel edges on the
 * integers (pixel (i, j) covers [i, i+1] × [j, j+1]), so x = width is the right edge of the frame.
 */

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Rounds to `digits` decimals (keeps wire messages short; 1e-4 of 640 px is 0.06 px). */
export function roundTo(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function normalizePoint(p: Point, width: number, height: number, digits = 4): Point {
  return [roundTo(clamp01(p[0] / width), digits), roundTo(clamp01(p[1] / height), digits)];
}

/** Clamps a box to the frame and orders its corners. */
export function clampBox(box: Box, width: number, height: number): Box {
  const x1 = Math.min(Math.max(Math.min(box[0], box[2]), 0), width);
  const x2 = Math.min(Math.max(Math.max(box[0], box[2]), 0), width);
  const y1 = Math.min(Math.max(Math.min(box[1], box[3]), 0), height);
  const y2 = Math.min(Math.max(Math.max(box[1], box[3]), 0), height);
  return [x1, y1, x2, y2];
}

/** The box in frame pixels (clamped, rounded to 0.1 px) and divided by the frame size. */
export function normalizeBox(box: Box, width: number, height: number, digits = 4): BoxPair {
  const c = clampBox(box, width, height);
  const pixels: Box = [roundTo(c[0], 1), roundTo(c[1], 1), roundTo(c[2], 1), roundTo(c[3], 1)];
  const normalized: Box = [
    roundTo(c[0] / width, digits),
    roundTo(c[1] / height, digits),
    roundTo(c[2] / width, digits),
    roundTo(c[3] / height, digits),
  ];
  return { pixels, normalized };
}
