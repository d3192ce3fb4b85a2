import { describe, expect, it } from 'vitest';
import {
  maskOuterRings,
  maskToContours,
  ringArea,
  rotateRingToTopLeft,
  simplifyRing,
} from '../../src/pipeline/contours.js';
import { normalizeBox } from '../../src/pipeline/box_normalize.js';
import type { Point } from '../../src/types/index.js';
import { makeMask } from './fixtures.js';

const inRect = (x0: number, y0: number, x1: number, y1: number) => (x: number, y: number) =>
  x >= x0 && x < x1 && y >= y0 && y < y1;

/** Largest distance from a point of `pts` to the polygon `poly` (closed) — how far the outline moved. */
function hausdorffToPolygon(pts: Point[], poly: Point[]): number {
  const segDist = (p: Point, a: Point, b: Point) => {
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    const l2 = dx * dx + dy * dy;
    const t = l2 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2)) : 0;
    return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
  };
  let worst = 0;
  for (const p of pts) {
    let best = Infinity;
    for (let i = 0; i < poly.length; i++) best = Math.min(best, segDist(p, poly[i], poly[(i + 1) % poly.length]));
    worst = Math.max(worst, best);
  }
  return worst;
}

describe('maskToContours', () => {
  it('a filled rectangle gives its 4 corners, offset to frame pixels and normalised', () => {
    // Mask box at (100, 50), 60×40, lesion filling the rectangle [10, 50) × [5, 35) of the box.
    const mask = makeMask(100, 50, 60, 40, inRect(10, 5, 50, 35));
    const [c, ...rest] = maskToContours(mask, 640, 480, { tolerance: 1 });
    expect(rest).toHaveLength(0);
    // Marching squares cut each corner by half a pixel; RDP at 1 px keeps one vertex per corner.
    expect(c.pixels.length).toBeGreaterThanOrEqual(4);
    expect(c.pixels.length).toBeLessThanOrEqual(8);
    const xs = c.pixels.map((p) => p[0]);
    const ys = c.pixels.map((p) => p[1]);
    expect(Math.min(...xs)).toBeCloseTo(110, 0);
    expect(Math.max(...xs)).toBeCloseTo(150, 0);
    expect(Math.min(...ys)).toBeCloseTo(55, 0);
    expect(Math.max(...ys)).toBeCloseTo(85, 0);
    // Every vertex lies within the tolerance (+ the half-pixel corner cut) of the true rectangle's outline,
    // and the area is that of 40 × 30 up to perimeter × tolerance.
    const rect: Point[] = [[110, 55], [150, 55], [150, 85], [110, 85]];
    expect(hausdorffToPolygon(c.pixels, rect)).toBeLessThanOrEqual(1.5);
    expect(Math.abs(ringArea(c.pixels))).toBeGreaterThan(1200 - 140);
    expect(Math.abs(ringArea(c.pixels))).toBeLessThanOrEqual(1200);
    // Normalised = pixels / frame size.
    c.normalized.forEach((p, i) => {
      expect(p[0]).toBeCloseTo(c.pixels[i][0] / 640, 4);
      expect(p[1]).toBeCloseTo(c.pixels[i][1] / 480, 4);
    });
    // Implicitly closed: first point not repeated.
    expect(c.pixels[0]).not.toEqual(c.pixels[c.pixels.length - 1]);
  });

  it('with a coarse tolerance a rectangle is exactly its 4 corner vertices', () => {
    const mask = makeMask(0, 0, 50, 50, inRect(5, 5, 45, 45));
    const [c] = maskToContours(mask, 50, 50, { tolerance: 2 });
    expect(c.pixels).toHaveLength(4);
  });

  it('a ring (annulus) gives only its outer boundary: the hole is ignored', () => {
    const mask = makeMask(0, 0, 64, 64, (x, y) => {
      const r = Math.hypot(x + 0.5 - 32, y + 0.5 - 32);
      return r <= 28 && r >= 14;
    });
    // d3-contour does see the hole …
    const raw = maskOuterRings(mask);
    expect(raw).toHaveLength(1);
    const contours = maskToContours(mask, 64, 64, { tolerance: 0.5 });
    expect(contours).toHaveLength(1);
    // … but we keep the outer ring: every vertex is near radius 28, none near radius 14.
    for (const [x, y] of contours[0].pixels) {
      const r = Math.hypot(x - 32, y - 32);
      expect(r).toBeGreaterThan(26);
      expect(r).toBeLessThan(30);
    }
    // Its area is the full disk's (πr² ≈ 2463), not the annulus's.
    expect(Math.abs(ringArea(contours[0].pixels))).toBeGreaterThan(2300);
  });

  it('two blobs give two contours, largest first', () => {
    const mask = makeMask(0, 0, 100, 40, (x, y) => inRect(5, 5, 25, 25)(x, y) || inRect(50, 5, 95, 35)(x, y));
    const cs = maskToContours(mask, 100, 40, { tolerance: 1 });
    expect(cs).toHaveLength(2);
    expect(Math.abs(ringArea(cs[0].pixels))).toBeGreaterThan(Math.abs(ringArea(cs[1].pixels)));
    expect(Math.min(...cs[0].pixels.map((p) => p[0]))).toBeCloseTo(50, 0);
    expect(Math.max(...cs[1].pixels.map((p) => p[0]))).toBeCloseTo(25, 0);
  });

  it('tiny specks below the minimum area are dropped', () => {
    const mask = makeMask(0, 0, 100, 100, (x, y) =>
      inRect(10, 10, 60, 60)(x, y) || (x === 80 && y === 80) || inRect(90, 10, 92, 12)(x, y),
    );
    expect(maskOuterRings(mask)).toHaveLength(3);
    expect(maskToContours(mask, 100, 100, { minAreaPx: 16 })).toHaveLength(1);
    expect(maskToContours(mask, 100, 100, { minAreaPx: 0, tolerance: 0 })).toHaveLength(3);
  });

  it('an empty mask gives no contours; 0/255 masks give the same polygons as 0/1', () => {
    expect(maskToContours(makeMask(0, 0, 10, 10, () => false), 10, 10)).toEqual([]);
    const m1 = makeMask(3, 4, 30, 30, (x, y) => Math.hypot(x - 15, y - 15) < 10);
    const m255 = { ...m1, data: m1.data.map((v) => v * 255) };
    expect(maskToContours(m255, 64, 64)).toEqual(maskToContours(m1, 64, 64));
  });

  it('a mask touching its box edge is closed along the edge and clamped to the frame', () => {
    const mask = makeMask(630, 470, 20, 20, () => true); // overhangs a 640×480 frame
    const [c] = maskToContours(mask, 640, 480, { tolerance: 1 });
    for (const [x, y] of c.pixels) {
      expect(x).toBeGreaterThanOrEqual(630);
      expect(x).toBeLessThanOrEqual(640);
      expect(y).toBeLessThanOrEqual(480);
    }
    for (const [x, y] of c.normalized) {
      expect(x).toBeLessThanOrEqual(1);
      expect(y).toBeLessThanOrEqual(1);
    }
  });

  it('simplification stays within the tolerance of the traced outline and reduces points', () => {
    const mask = makeMask(0, 0, 200, 200, (x, y) => {
      const a = Math.atan2(y - 100, x - 100);
      return Math.hypot(x - 100, y - 100) < 70 + 15 * Math.sin(5 * a);
    });
    const [{ ring }] = maskOuterRings(mask);
    for (const tol of [0.5, 1.5, 3]) {
      const simple = simplifyRing(ring, tol);
      expect(simple.length).toBeLessThan(ring.length / 2);
      expect(hausdorffToPolygon(ring, simple)).toBeLessThanOrEqual(tol + 1e-9);
    }
    expect(simplifyRing(ring, 3).length).toBeLessThan(simplifyRing(ring, 0.5).length);
  });

  it('rotateRingToTopLeft starts at the vertex with the smallest x + y and keeps the ring closed', () => {
    const r = rotateRingToTopLeft([[5, 0], [5, 5], [0, 5], [0, 0], [5, 0]]);
    expect(r[0]).toEqual([0, 0]);
    expect(r[r.length - 1]).toEqual([0, 0]);
    expect(r).toHaveLength(5);
  });

  it('rejects mask data shorter than width × height', () => {
    expect(() => maskToContours({ x: 0, y: 0, width: 10, height: 10, data: new Uint8Array(5) }, 10, 10)).toThrow(RangeError);
  });

  it('simplifies a full 640×480 mask to a compact outline', () => {
    const mask = makeMask(0, 0, 640, 480, (x, y) => {
      const a = Math.atan2(y - 240, x - 320);
      return Math.hypot((x - 320) / 1.3, y - 240) < 150 + 20 * Math.sin(7 * a);
    });
    const [c, ...rest] = maskToContours(mask, 640, 480);
    expect(rest).toEqual([]);
    // Seven lobes need more than a handful of points, but RDP at 1.5 px keeps far fewer than the border's ~1500 pixels.
    expect(c.pixels.length).toBeGreaterThan(20);
    expect(c.pixels.length).toBeLessThan(300);
  });
});

describe('normalizeBox', () => {
  it('clamps to the frame and divides by its size', () => {
    expect(normalizeBox([-10, 20, 320, 500], 640, 480)).toEqual({
      pixels: [0, 20, 320, 480],
      normalized: [0, 0.0417, 0.5, 1],
    });
  });
});
