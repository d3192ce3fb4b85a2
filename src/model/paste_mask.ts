import type { BoxMask } from '../types/detection.js';

/**
 * Pastes an m×m mask-probability map predicted for `box` into a binary bitmap over the box's whole
 * pixels, sampling the map bilinearly at each pixel centre (as Mask R-CNN's paste_masks_in_image).
 * `box` is in the target image's pixels; the result is clipped to width × height.
 */
export function pasteMask(box: ArrayLike<number>, probs: Float32Array, m: number, width: number, height: number, threshold: number): BoxMask {
  const x0 = Math.max(0, Math.floor(box[0]));
  const y0 = Math.max(0, Math.floor(box[1]));
  const x1 = Math.min(width, Math.ceil(box[2]));
  const y1 = Math.min(height, Math.ceil(box[3]));
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const data = new Uint8Array(w * h);
  const bw = Math.max(box[2] - box[0], 1e-6);
  const bh = Math.max(box[3] - box[1], 1e-6);
  for (let y = 0; y < h; y++) {
    // Position in mask cells, with cell centres at +0.5.
    const my = Math.min(Math.max(((y0 + y + 0.5 - box[1]) / bh) * m - 0.5, 0), m - 1);
    const my0 = Math.floor(my);
    const my1 = Math.min(my0 + 1, m - 1);
    const ay = my - my0;
    for (let x = 0; x < w; x++) {
      const mx = Math.min(Math.max(((x0 + x + 0.5 - box[0]) / bw) * m - 0.5, 0), m - 1);
      const mx0 = Math.floor(mx);
      const mx1 = Math.min(mx0 + 1, m - 1);
      const ax = mx - mx0;
      const v = (probs[my0 * m + mx0] * (1 - ax) + probs[my0 * m + mx1] * ax) * (1 - ay) + (probs[my1 * m + mx0] * (1 - ax) + probs[my1 * m + mx1] * ax) * ay;
      const inside = x0 + x + 0.5 >= box[0] && x0 + x + 0.5 <= box[2] && y0 + y + 0.5 >= box[1] && y0 + y + 0.5 <= box[3];
      data[y * w + x] = inside && v >= threshold ? 1 : 0;
    }
  }
  return { x: x0, y: y0, width: w, height: h, data };
}

/** Union of box masks as a full-frame bitmap (what ISIC scores: the lesion mask of the image). */
export function unionMask(masks: BoxMask[], width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (const m of masks) {
    for (let y = 0; y < m.height; y++) {
      const row = (m.y + y) * width + m.x;
      for (let x = 0; x < m.width; x++) if (m.data[y * m.width + x]) out[row + x] = 1;
    }
  }
  return out;
}
