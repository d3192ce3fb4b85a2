import { contours as d3Contours } from 'd3-contour';
import simplify from 'simplify-js';
import type { BoxMask, Contour, Point } from '../types/index.js';
import { normalizePoint } from './box_normalize.js';

/**
 * Mask → contours: the outer boundary of each connected blob of a binary box mask, as simplified polygons in
 * frame pixels and in normalised [0, 1] coordinates.
 *
 * - Marching squares by d3-contour (a well-kept, dependency-light implementation) at threshold 0.5 without
 *   interpolation, so a mask of 0/1 or 0/255 gives the same polygons: vertices lie on pixel edges (integers)
 *   or cut pixel corners (half-integers). Pixel (i, j) covers [i, i+1] × [j, j+1].
 * - Holes are ignored: only the exterior ring of each polygon is kept (a ring-shaped lesion is one outline).
 * - Blobs whose exterior ring encloses less than `minAreaPx` pixels² are dropped (speckle from the mask head).
 * - Each ring is simplified by Ramer–Douglas–Peucker (simplify-js, high-quality mode) to `tolerance` pixels.
 *   The ring is first rotated to start at its top-left-most vertex (min x + y, a convex-hull vertex), so
 *   RDP's fixed endpoint is a true corner and a rectangle comes out as its 4 corners.
 * - Polygons are implicitly closed: the first point is not repeated at the end. Largest area first, at most
 *   `maxContours`.
 */

export interface ContourOptions {
  /** RDP tolerance in frame pixels (max distance of a dropped vertex from the simplified outline). */
  tolerance: number;
  /** Blobs enclosing less area than this (pixels²) are dropped. */
  minAreaPx: number;
  /** Keep at most this many contours (largest first); bounds message size. */
  maxContours: number;
  /** Decimals of the normalised coordinates. */
  normalizedDigits: number;
}

export const DEFAULT_CONTOUR_OPTIONS: ContourOptions = {
  tolerance: 1.5,
  minAreaPx: 16,
  maxContours: 8,
  normalizedDigits: 4,
};

/** Signed shoelace area of a ring (closed or not); positive or negative depending on orientation. */
export function ringArea(ring: readonly Point[]): number {
  let a = 0;
  const n = ring.length;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    a += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  }
  return a / 2;
}

/**
 * Exterior rings of the blobs of `mask`, in mask-local pixel coordinates, with their areas (pixels²),
 * largest first. Rings are closed (first point repeated last), as d3-contour returns them.
 */
export function maskOuterRings(mask: Pick<BoxMask, 'width' | 'height' | 'data'>): { ring: Point[]; area: number }[] {
  const { width, height, data } = mask;
  if (width <= 0 || height <= 0) return [];
  if (data.length < width * height) {
    throw new RangeError(`mask data has ${data.length} bytes, expected ${width}×${height}=${width * height}`);
  }
  const generator = d3Contours().size([width, height]).smooth(false);
  const multi = generator.contour(data as unknown as number[], 0.5);
  const out: { ring: Point[]; area: number }[] = [];
  for (const polygon of multi.coordinates) {
    const outer = polygon[0] as Point[] | undefined;
    if (!outer || outer.length < 4) continue;
    out.push({ ring: outer, area: Math.abs(ringArea(outer)) });
  }
  out.sort((a, b) => b.area - a.area);
  return out;
}

/** Rotates a closed ring so it starts (and ends) at its vertex with the smallest x + y. */
export function rotateRingToTopLeft(ring: readonly Point[]): Point[] {
  const open = ring.length > 1 && samePoint(ring[0], ring[ring.length - 1]) ? ring.slice(0, -1) : ring.slice();
  let best = 0;
  for (let i = 1; i < open.length; i++) {
    const s = open[i][0] + open[i][1];
    const b = open[best][0] + open[best][1];
    if (s < b || (s === b && open[i][0] < open[best][0])) best = i;
  }
  const rotated = open.slice(best).concat(open.slice(0, best));
  rotated.push(rotated[0]);
  return rotated;
}

/** RDP-simplifies a closed ring to `tolerance` px; returns an open polygon (no repeated last point). */
export function simplifyRing(ring: readonly Point[], tolerance: number): Point[] {
  const closed = rotateRingToTopLeft(ring);
  const pts = closed.map(([x, y]) => ({ x, y }));
  const simplified = tolerance > 0 ? simplify(pts, tolerance, true) : pts;
  const out: Point[] = simplified.map((p) => [p.x, p.y]);
  if (out.length > 1 && samePoint(out[0], out[out.length - 1])) out.pop();
  return out;
}

/**
 * Contours of a box mask in frame pixels and normalised coordinates.
 * `frameWidth`/`frameHeight` normalise and clamp (a mask may overhang the frame by a rounding pixel).
 */
export function maskToContours(
  mask: BoxMask,
  frameWidth: number,
  frameHeight: number,
  options: Partial<ContourOptions> = {},
): Contour[] {
  const o = { ...DEFAULT_CONTOUR_OPTIONS, ...options };
  const rings = maskOuterRings(mask);
  const result: Contour[] = [];
  for (const { ring, area } of rings) {
    if (result.length >= o.maxContours) break;
    if (area < o.minAreaPx) continue;
    const local = simplifyRing(ring, o.tolerance);
    if (local.length < 3) continue;
    const pixels: Point[] = local.map(([x, y]) => [
      clamp(x + mask.x, 0, frameWidth),
      clamp(y + mask.y, 0, frameHeight),
    ]);
    const normalized = pixels.map((p) => normalizePoint(p, frameWidth, frameHeight, o.normalizedDigits));
    result.push({ pixels, normalized });
  }
  return result;
}

function samePoint(a: Point, b: Point): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
