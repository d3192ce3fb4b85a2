/**
 * Browser side, pure geometry: where the frame goes on the canvas and where its normalised coordinates land.
 * The image is fitted whole ("contain") and centred; boxes and contours come in normalised frame coordinates
 * ([0, 1] of the full-resolution frame, which the thumbnail has the aspect of) and are mapped into that rectangle.
 */

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The largest rectangle of `srcW:srcH` aspect that fits in `dstW × dstH`, centred. */
export function fitContain(srcW: number, srcH: number, dstW: number, dstH: number): Rect {
  if (srcW <= 0 || srcH <= 0 || dstW <= 0 || dstH <= 0) return { x: 0, y: 0, width: 0, height: 0 };
  const scale = Math.min(dstW / srcW, dstH / srcH);
  const width = srcW * scale;
  const height = srcH * scale;
  return { x: (dstW - width) / 2, y: (dstH - height) / 2, width, height };
}

/** A normalised point → canvas coordinates inside `r`. */
export function toCanvas([nx, ny]: readonly [number, number], r: Rect): [number, number] {
  return [r.x + nx * r.width, r.y + ny * r.height];
}

export function polygonToCanvas(points: readonly (readonly [number, number])[], r: Rect): [number, number][] {
  return points.map((p) => toCanvas(p, r));
}

/** A normalised box `[x1, y1, x2, y2]` → canvas rectangle inside `r`. */
export function boxToCanvas(box: readonly [number, number, number, number], r: Rect): Rect {
  const [x1, y1] = toCanvas([box[0], box[1]], r);
  const [x2, y2] = toCanvas([box[2], box[3]], r);
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/** Overlay colours: one fixed high-visibility colour for every state, so the outline never encodes the verdict. */
export const OVERLAY = {
  contour: '#ffd400',
  contourHalo: '#202020',
  box: '#ffffff',
} as const;
