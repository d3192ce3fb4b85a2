import type { Box, BoxMask, Detection, Frame, Inference } from '../../src/types/index.js';

/** Small deterministic generators shared by the pipeline tests. */

export function lcg(seed = 1): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

export function makeFrame(
  width: number,
  height: number,
  pixel: (x: number, y: number) => [number, number, number] | number,
  seq = 0,
  monoMs = 0,
): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = pixel(x, y);
      const [r, g, b] = typeof v === 'number' ? [v, v, v] : v;
      const i = (y * width + x) * 3;
      data[i] = clamp255(r);
      data[i + 1] = clamp255(g);
      data[i + 2] = clamp255(b);
    }
  }
  return { seq, capturedAt: { monoMs, wallMs: 1_700_000_000_000 + monoMs }, width, height, format: 'RGB', data, source: 'test' };
}

/** A sharp, skin-coloured texture (pigment-network-like sines plus a little noise) with a darker lesion disk,
 *  so that it keeps large-scale contrast when blurred. */
export function texturedFrame(width = 640, height = 480, seq = 0, monoMs = 0, seed = 7): Frame {
  const rnd = lcg(seed);
  return makeFrame(
    width,
    height,
    (x, y) => {
      const lesion = Math.hypot(x - width / 2, y - height / 2) < height / 4 ? 60 : 0;
      const v = 170 - lesion + 50 * Math.sin(x / 3) * Math.sin(y / 3) + 20 * (rnd() - 0.5);
      return [v * 1.1, v * 0.8, v * 0.7];
    },
    seq,
    monoMs,
  );
}

/** A box mask with `fill(x, y)` in mask-local coordinates. */
export function makeMask(x: number, y: number, width: number, height: number, fill: (x: number, y: number) => boolean): BoxMask {
  const data = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) for (let i = 0; i < width; i++) data[j * width + i] = fill(i, j) ? 1 : 0;
  return { x, y, width, height, data };
}

/** A detection whose mask fills its box (an ellipse). */
export function det(box: Box, malignant: number, score = 0.9): Detection {
  const x = Math.floor(box[0]);
  const y = Math.floor(box[1]);
  const w = Math.max(1, Math.ceil(box[2]) - x);
  const h = Math.max(1, Math.ceil(box[3]) - y);
  const mask = makeMask(x, y, w, h, (i, j) => ((i + 0.5 - w / 2) / (w / 2)) ** 2 + ((j + 0.5 - h / 2) / (h / 2)) ** 2 <= 1);
  return { box, score, probabilities: { benign: 1 - malignant, malignant }, mask };
}

export function inference(seq: number, monoMs: number, detections: Detection[], width = 640, height = 480): Inference {
  return {
    frame: { seq, capturedAt: { monoMs, wallMs: 1_700_000_000_000 + monoMs }, width, height, source: 'test' },
    detections,
    timings: { preprocessMs: 1, inferMs: 10, postprocessMs: 2 },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
