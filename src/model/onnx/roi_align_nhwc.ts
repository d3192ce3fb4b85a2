import { bilinearWeights } from '../roi_align.js';

/** One pyramid level of one image, NHWC, as an engine hands it back. */
export interface FeatureLevel {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
  stride: number;
}

/** Non-zero entries of each row of a [pooled × length] weight matrix: at most 2·samples per row. */
function sparseRows(w: Float32Array, pooled: number, length: number): Array<Array<[number, number]>> {
  const rows: Array<Array<[number, number]>> = [];
  for (let p = 0; p < pooled; p++) {
    const row: Array<[number, number]> = [];
    for (let i = 0; i < length; i++) if (w[p * length + i] !== 0) row.push([i, w[p * length + i]]);
    rows.push(row);
  }
  return rows;
}

/**
 * RoI align on plain arrays, for engines that hand features back to TypeScript: the same separable bilinear
 * weights as roi_align.ts (pooled = Ry · F · Rxᵀ, built by the same bilinearWeights), summed over their few
 * non-zero taps instead of multiplied as dense matrices — 16 RoIs of 7×7×64 take well under a millisecond.
 * Returns [R, pooled, pooled, C] (NHWC) in the order of `boxes`.
 */
export function roiAlignNhwc(levels: FeatureLevel[], boxes: ArrayLike<number>[], levelOf: (box: ArrayLike<number>) => number, pooled: number, samples: number): Float32Array {
  const c = levels[0].channels;
  const out = new Float32Array(boxes.length * pooled * pooled * c);
  boxes.forEach((box, r) => {
    const f = levels[levelOf(box)];
    const s = f.stride;
    const x1 = box[0] / s - 0.5;
    const y1 = box[1] / s - 0.5;
    const bw = Math.max((box[2] - box[0]) / s, 1e-3) / pooled;
    const bh = Math.max((box[3] - box[1]) / s, 1e-3) / pooled;
    const ry = sparseRows(bilinearWeights(y1, bh, pooled, samples, f.height), pooled, f.height);
    const rx = sparseRows(bilinearWeights(x1, bw, pooled, samples, f.width), pooled, f.width);
    const acc = new Float64Array(c);
    for (let p = 0; p < pooled; p++) {
      for (let q = 0; q < pooled; q++) {
        acc.fill(0);
        for (const [h, wy] of ry[p]) {
          for (const [w, wx] of rx[q]) {
            const wgt = wy * wx;
            const base = (h * f.width + w) * c;
            for (let k = 0; k < c; k++) acc[k] += wgt * f.data[base + k];
          }
        }
        out.set(acc, ((r * pooled + p) * pooled + q) * c);
      }
    }
  });
  return out;
}
