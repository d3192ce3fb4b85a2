import { iou } from './iou.js';

/**
 * Greedy non-maximum suppression: walk boxes by descending score, keep one unless it overlaps a kept
 * box by more than `iouThreshold`. Returns kept indices, best first. Ties keep the lower index.
 */
export function nms(boxes: Float32Array, scores: ArrayLike<number>, iouThreshold: number, maxKeep = Infinity, scoreThreshold = -Infinity): number[] {
  const order: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] >= scoreThreshold) order.push(i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  const keep: number[] = [];
  for (const i of order) {
    if (keep.length >= maxKeep) break;
    let ok = true;
    for (const k of keep) {
      if (iou(boxes, boxes, i * 4, k * 4) > iouThreshold) {
        ok = false;
        break;
      }
    }
    if (ok) keep.push(i);
  }
  return keep;
}

/** Indices of the k largest scores, largest first (partial selection would be faster; k·n is small here). */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, k);
}
