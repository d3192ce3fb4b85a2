/**
 * Faster R-CNN box parameterisation: t = ((gx − ax)/aw·wx, (gy − ay)/ah·wy, log(gw/aw)·ww, log(gh/ah)·wh).
 * The weights (1,1,1,1) for the RPN and (10,10,5,5) for the box head follow Detectron.
 */
export type BoxWeights = [number, number, number, number];

export const RPN_WEIGHTS: BoxWeights = [1, 1, 1, 1];
export const HEAD_WEIGHTS: BoxWeights = [10, 10, 5, 5];

/** Largest exp() argument: a box at most 1000/16 times its anchor, as in Detectron. */
const MAX_LOG = Math.log(1000 / 16);

export function encodeBox(box: ArrayLike<number>, anchor: ArrayLike<number>, w: BoxWeights, out: Float32Array = new Float32Array(4), o = 0): Float32Array {
  const aw = anchor[2] - anchor[0];
  const ah = anchor[3] - anchor[1];
  const ax = anchor[0] + aw / 2;
  const ay = anchor[1] + ah / 2;
  const gw = box[2] - box[0];
  const gh = box[3] - box[1];
  const gx = box[0] + gw / 2;
  const gy = box[1] + gh / 2;
  out[o] = ((gx - ax) / aw) * w[0];
  out[o + 1] = ((gy - ay) / ah) * w[1];
  out[o + 2] = Math.log(gw / aw) * w[2];
  out[o + 3] = Math.log(gh / ah) * w[3];
  return out;
}

export function decodeBox(delta: ArrayLike<number>, anchor: ArrayLike<number>, w: BoxWeights, out: Float32Array = new Float32Array(4), o = 0): Float32Array {
  const aw = anchor[2] - anchor[0];
  const ah = anchor[3] - anchor[1];
  const ax = anchor[0] + aw / 2;
  const ay = anchor[1] + ah / 2;
  const cx = (delta[0] / w[0]) * aw + ax;
  const cy = (delta[1] / w[1]) * ah + ay;
  const bw = Math.exp(Math.min(delta[2] / w[2], MAX_LOG)) * aw;
  const bh = Math.exp(Math.min(delta[3] / w[3], MAX_LOG)) * ah;
  out[o] = cx - bw / 2;
  out[o + 1] = cy - bh / 2;
  out[o + 2] = cx + bw / 2;
  out[o + 3] = cy + bh / 2;
  return out;
}

export function clipBox(b: Float32Array, o: number, w: number, h: number): void {
  b[o] = Math.min(Math.max(b[o], 0), w);
  b[o + 1] = Math.min(Math.max(b[o + 1], 0), h);
  b[o + 2] = Math.min(Math.max(b[o + 2], 0), w);
  b[o + 3] = Math.min(Math.max(b[o + 3], 0), h);
}
