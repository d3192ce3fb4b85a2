import type { Box } from '../types/index.js';

/** Box overlap, used to associate a lesion across frames. Boxes are [x1, y1, x2, y2] in frame pixels. */

export function boxArea(b: Box): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

/** Intersection over union of two boxes; 0 when either is empty. */
export function iou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Share of `inner`'s area that lies inside `outer` (0 when `inner` is empty). */
export function containedFraction(inner: Box, outer: Box): number {
  const a = boxArea(inner);
  if (a <= 0) return 0;
  const i: Box = [Math.max(inner[0], outer[0]), Math.max(inner[1], outer[1]), Math.min(inner[2], outer[2]), Math.min(inner[3], outer[3])];
  return boxArea(i) / a;
}

/** How much of the smaller box lies inside the larger: 1 when one box holds the other, whatever their sizes. */
export function nestedFraction(a: Box, b: Box): number {
  return boxArea(a) <= boxArea(b) ? containedFraction(a, b) : containedFraction(b, a);
}
