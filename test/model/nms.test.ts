import { describe, expect, it } from 'vitest';
import { topK } from '../../src/model/nms.js';

/** The reference: a full sort by score, descending, ties by index. */
function sortedTopK(scores: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: scores.length }, (_, i) => i)
    .sort((a, b) => scores[b] - scores[a] || a - b)
    .slice(0, Math.max(0, k));
}

describe('topK by selection', () => {
  it('equals the first k of a full sort, with ties, duplicates and every k', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (const n of [1, 2, 5, 50, 1000]) {
      // Coarse values force many ties (as float32 logits of neighbouring anchors do).
      const scores = Float32Array.from({ length: n }, () => Math.round(rand() * 20) / 4 - 2);
      for (const k of [0, 1, 2, 3, Math.floor(n / 2), n - 1, n, n + 5]) expect(topK(scores, k)).toEqual(sortedTopK(scores, k));
    }
  });

  it('handles all-equal and negative scores', () => {
    expect(topK(new Float32Array(10).fill(-3), 4)).toEqual([0, 1, 2, 3]);
    expect(topK([-1, -5, -0.5, -2], 2)).toEqual([2, 0]);
  });
});
