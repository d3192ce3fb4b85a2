import type { AnchorSet } from './anchors.js';
import { clipBox, decodeBox, RPN_WEIGHTS } from './box_coder.js';
import { nms, topK } from './nms.js';

/**
 * RPN proposals for one image: the top-k anchors by objectness, decoded, clipped to the input, tiny boxes
 * dropped, then NMS. `logits` and `deltas` are this image's rows ([N] and [N·4]).
 */
export function proposals(anchors: AnchorSet, logits: Float32Array, deltas: Float32Array, inputSize: number, preNms: number, postNms: number, nmsIoU: number): { boxes: Float32Array[]; scores: number[] } {
  const idx = topK(logits, preNms);
  const boxes = new Float32Array(idx.length * 4);
  const scores = new Float32Array(idx.length);
  const minSide = inputSize / 64;
  let k = 0;
  for (const i of idx) {
    decodeBox(deltas.subarray(i * 4, i * 4 + 4), anchors.boxes.subarray(i * 4, i * 4 + 4), RPN_WEIGHTS, boxes, k * 4);
    clipBox(boxes, k * 4, inputSize, inputSize);
    if (boxes[k * 4 + 2] - boxes[k * 4] < minSide || boxes[k * 4 + 3] - boxes[k * 4 + 1] < minSide) continue;
    scores[k] = 1 / (1 + Math.exp(-logits[i]));
    k++;
  }
  const kept = nms(boxes.subarray(0, k * 4), scores.subarray(0, k), nmsIoU, postNms);
  return { boxes: kept.map((i) => boxes.slice(i * 4, i * 4 + 4)), scores: kept.map((i) => scores[i]) };
}
