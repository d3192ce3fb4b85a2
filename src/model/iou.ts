/** Intersection over union of two [x1, y1, x2, y2] boxes (0 for empty boxes). */
export function iou(a: ArrayLike<number>, b: ArrayLike<number>, ao = 0, bo = 0): number {
  const ix = Math.min(a[ao + 2], b[bo + 2]) - Math.max(a[ao], b[bo]);
  const iy = Math.min(a[ao + 3], b[bo + 3]) - Math.max(a[ao + 1], b[bo + 1]);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const areaA = (a[ao + 2] - a[ao]) * (a[ao + 3] - a[ao + 1]);
  const areaB = (b[bo + 2] - b[bo]) * (b[bo + 3] - b[bo + 1]);
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}
