import type { Box, Detection, Frame } from '../types/index.js';

/**
 * What the tracked lesion looks like, cheaply: colour statistics of the lesion (inside its mask) and of the
 * skin around it (inside its box, outside the mask) in CIELAB, and the mask's size and shape. The episode
 * calculator compares these between model outputs so that a different lesion under the scope at the same
 * place — which IoU association keeps on the same track — starts a new episode (see debounce.md, "Episodes").
 *
 * Computed in the pipeline from the frame and the detection (not in the model room): a grid of at most
 * `grid × grid` samples over the box, each one pixel read from the frame and one bit from the mask — about
 * 0.05 ms at grid 24, nothing beside an inference. CIELAB because a distance there (ΔE) tracks what a reader
 * sees as a different colour, and its lightness axis separates exposure changes from hue changes.
 */

export type Lab = [number, number, number];

export interface Appearance {
  /** Mean and standard deviation of the lesion's samples (inside the mask), CIELAB (D65). */
  lesion: { mean: Lab; std: Lab; samples: number };
  /** Mean of the skin's samples (box minus mask), or null when the mask fills the box. */
  skin: Lab | null;
  /** Mask area over frame area (scale: changes with zoom). */
  areaFraction: number;
  /** Mask area over box area (shape: scale-invariant). */
  fill: number;
  /** Box width over height (shape). */
  aspect: number;
  /** The detection's box, clipped to the frame (frame pixels): where the region is, for nested views. */
  box: Box;
}

/** sRGB byte → linear light, tabulated once. */
const LINEAR = new Float64Array(256);
for (let i = 0; i < 256; i++) {
  const c = i / 255;
  LINEAR[i] = c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);

/** sRGB (0–255) → CIELAB, D65 white. */
export function rgbToLab(r: number, g: number, b: number): Lab {
  const R = LINEAR[r]!;
  const G = LINEAR[g]!;
  const B = LINEAR[b]!;
  const x = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
  const y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const z = (0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883;
  const fx = f(x);
  const fy = f(y);
  const fz = f(z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** Fewer lesion samples than this and the statistics are noise: no appearance (the check then abstains). */
export const MIN_LESION_SAMPLES = 12;

/**
 * Appearance of `detection` in `frame`, or null when the mask holds too few samples to say (a sliver).
 * The box is clipped to the frame; the mask is read in frame coordinates (`BoxMask.x/y`).
 */
export function appearanceOf(
  frame: Pick<Frame, 'width' | 'height' | 'data'>,
  detection: Pick<Detection, 'box' | 'mask'>,
  grid = 24,
): Appearance | null {
  const { width: W, height: H, data } = frame;
  const [bx1, by1, bx2, by2] = detection.box;
  const x1 = Math.max(0, Math.floor(bx1));
  const y1 = Math.max(0, Math.floor(by1));
  const x2 = Math.min(W, Math.ceil(bx2));
  const y2 = Math.min(H, Math.ceil(by2));
  if (!(x2 > x1 && y2 > y1)) return null;
  const m = detection.mask;
  const nx = Math.min(grid, x2 - x1);
  const ny = Math.min(grid, y2 - y1);
  const sx = (x2 - x1) / nx;
  const sy = (y2 - y1) / ny;
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  const skin = [0, 0, 0];
  let n = 0;
  let ns = 0;
  for (let j = 0; j < ny; j++) {
    const y = Math.min(H - 1, Math.floor(y1 + (j + 0.5) * sy));
    const my = y - m.y;
    for (let i = 0; i < nx; i++) {
      const x = Math.min(W - 1, Math.floor(x1 + (i + 0.5) * sx));
      const mx = x - m.x;
      const inside = mx >= 0 && my >= 0 && mx < m.width && my < m.height && m.data[my * m.width + mx]! > 0;
      const p = (y * W + x) * 3;
      const lab = rgbToLab(data[p]!, data[p + 1]!, data[p + 2]!);
      if (inside) {
        n++;
        for (let c = 0; c < 3; c++) {
          sum[c]! += lab[c]!;
          sq[c]! += lab[c]! * lab[c]!;
        }
      } else {
        ns++;
        for (let c = 0; c < 3; c++) skin[c]! += lab[c]!;
      }
    }
  }
  if (n < MIN_LESION_SAMPLES) return null;
  const mean = sum.map((s) => s / n) as Lab;
  // One pass is enough here: the values are O(100) and n ≤ grid², far from cancellation trouble.
  const std = sq.map((q, c) => Math.sqrt(Math.max(0, q / n - mean[c]! ** 2))) as Lab;
  const fill = n / (nx * ny);
  const boxArea = (x2 - x1) * (y2 - y1);
  return {
    lesion: { mean, std, samples: n },
    skin: ns >= MIN_LESION_SAMPLES ? (skin.map((s) => s / ns) as Lab) : null,
    areaFraction: (fill * boxArea) / (W * H),
    fill,
    aspect: (x2 - x1) / (y2 - y1),
    box: [x1, y1, x2, y2],
  };
}

export interface AppearanceDistance {
  /** CIE76 ΔE between the lesions' mean colours. */
  lesionDeltaE: number;
  /** CIE76 ΔE between the surrounding skins' mean colours (null when either has none). */
  skinDeltaE: number | null;
  /** Euclidean distance between the lesions' colour standard deviations (texture / variegation). */
  textureDelta: number;
  /** max(a, b) / min(a, b) of the mask areas (≥ 1). */
  areaRatio: number;
  /** |fill a − fill b|. */
  fillDelta: number;
}

const dist3 = (a: Lab, b: Lab): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

export function appearanceDistance(a: Appearance, b: Appearance): AppearanceDistance {
  const lo = Math.min(a.areaFraction, b.areaFraction);
  const hi = Math.max(a.areaFraction, b.areaFraction);
  return {
    lesionDeltaE: dist3(a.lesion.mean, b.lesion.mean),
    skinDeltaE: a.skin && b.skin ? dist3(a.skin, b.skin) : null,
    textureDelta: dist3(a.lesion.std, b.lesion.std),
    areaRatio: lo > 0 ? hi / lo : Number.POSITIVE_INFINITY,
    fillDelta: Math.abs(a.fill - b.fill),
  };
}

/** Running reference of an episode's appearance: an exponential moving average, so slow drift (light,
 *  zoom, pressure) is followed while a cut to another lesion stands out. */
export function blendAppearance(ref: Appearance, next: Appearance, alpha: number): Appearance {
  const mix = (x: number, y: number) => (1 - alpha) * x + alpha * y;
  const mix3 = (x: Lab, y: Lab): Lab => [mix(x[0], y[0]), mix(x[1], y[1]), mix(x[2], y[2])];
  return {
    lesion: { mean: mix3(ref.lesion.mean, next.lesion.mean), std: mix3(ref.lesion.std, next.lesion.std), samples: next.lesion.samples },
    skin: ref.skin && next.skin ? mix3(ref.skin, next.skin) : (next.skin ?? ref.skin),
    // Area on a log scale: zoom multiplies it.
    areaFraction: Math.exp(mix(Math.log(ref.areaFraction), Math.log(next.areaFraction))),
    fill: mix(ref.fill, next.fill),
    aspect: mix(ref.aspect, next.aspect),
    box: [mix(ref.box[0], next.box[0]), mix(ref.box[1], next.box[1]), mix(ref.box[2], next.box[2]), mix(ref.box[3], next.box[3])],
  };
}
