/** Strides of the pyramid levels P2..P5. */
export const LEVEL_STRIDES = [4, 8, 16, 32];

export interface AnchorSet {
  /** [x1, y1, x2, y2] per anchor in input pixels, ordered level → row → column → anchor (the RPN's flatten order). */
  boxes: Float32Array;
  count: number;
  /** Anchors per location (the same on every level). */
  perLocation: number;
  /** First anchor index of each level. */
  levelStart: number[];
}

/**
 * Anchors centred on each feature cell of P2..P5. Side = sizes[level] · inputSize · scale, shaped by
 * ratio = h/w at constant area, as in Faster R-CNN/FPN.
 */
export function generateAnchors(inputSize: number, sizes: number[], scales: number[], ratios: number[]): AnchorSet {
  const shapes: Array<Array<[number, number]>> = sizes.map((s) =>
    scales.flatMap((sc) =>
      ratios.map((r): [number, number] => {
        const side = s * inputSize * sc;
        return [side / Math.sqrt(r), side * Math.sqrt(r)];
      }),
    ),
  );
  const perLocation = shapes[0].length;
  let count = 0;
  const levelStart: number[] = [];
  for (const stride of LEVEL_STRIDES) {
    levelStart.push(count);
    const n = Math.ceil(inputSize / stride);
    count += n * n * perLocation;
  }
  const boxes = new Float32Array(count * 4);
  let k = 0;
  LEVEL_STRIDES.forEach((stride, level) => {
    const n = Math.ceil(inputSize / stride);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const cx = (x + 0.5) * stride;
        const cy = (y + 0.5) * stride;
        for (const [w, h] of shapes[level]) {
          boxes[k++] = cx - w / 2;
          boxes[k++] = cy - h / 2;
          boxes[k++] = cx + w / 2;
          boxes[k++] = cy + h / 2;
        }
      }
    }
  });
  return { boxes, count, perLocation, levelStart };
}
