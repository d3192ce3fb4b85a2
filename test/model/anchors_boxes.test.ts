import { describe, expect, it } from 'vitest';
import { generateAnchors, LEVEL_STRIDES } from '../../src/model/anchors.js';
import { decodeBox, encodeBox, HEAD_WEIGHTS, RPN_WEIGHTS } from '../../src/model/box_coder.js';
import { iou } from '../../src/model/iou.js';
import { nms, topK } from '../../src/model/nms.js';

describe('anchors', () => {
  const a = generateAnchors(160, [0.1, 0.2, 0.4, 0.8], [1, 1.41], [0.5, 1, 2]);
  it('covers every cell of P2..P5 with scales × ratios anchors', () => {
    expect(a.perLocation).toBe(6);
    const cells = LEVEL_STRIDES.map((s) => Math.ceil(160 / s) ** 2);
    expect(a.count).toBe(cells.reduce((x, y) => x + y, 0) * 6);
    expect(a.levelStart).toEqual([0, cells[0] * 6, (cells[0] + cells[1]) * 6, (cells[0] + cells[1] + cells[2]) * 6]);
  });
  it('centres the first P2 anchor on cell (0,0) with side 16 and ratio 0.5 (h/w)', () => {
    const [x1, y1, x2, y2] = a.boxes.subarray(0, 4);
    expect((x1 + x2) / 2).toBeCloseTo(2);
    expect((y1 + y2) / 2).toBeCloseTo(2);
    expect((x2 - x1) * (y2 - y1)).toBeCloseTo(256, 3);
    expect((y2 - y1) / (x2 - x1)).toBeCloseTo(0.5);
  });
  it('puts the last anchor at the centre of the last P5 cell with the largest side', () => {
    const o = (a.count - 1) * 4;
    const b = a.boxes.subarray(o, o + 4);
    expect((b[0] + b[2]) / 2).toBeCloseTo(144);
    expect(Math.sqrt((b[2] - b[0]) * (b[3] - b[1]))).toBeCloseTo(0.8 * 160 * 1.41, 3);
  });
});

describe('box encoding', () => {
  const anchor = [10, 20, 50, 100];
  for (const [name, w] of [['rpn', RPN_WEIGHTS], ['head', HEAD_WEIGHTS]] as const) {
    it(`round-trips through encode/decode (${name} weights)`, () => {
      for (const box of [[12, 18, 60, 90], [0, 0, 5, 5], [30, 40, 31, 41], [10, 20, 50, 100]]) {
        const back = decodeBox(encodeBox(box, anchor, w), anchor, w);
        for (let i = 0; i < 4; i++) expect(back[i]).toBeCloseTo(box[i], 4);
      }
    });
  }
  it('encodes the anchor itself as zeros and a 2× wider box as log 2', () => {
    expect([...encodeBox(anchor, anchor, RPN_WEIGHTS)]).toEqual([0, 0, 0, 0]);
    const wide = encodeBox([-10, 20, 70, 100], anchor, RPN_WEIGHTS);
    expect(wide[2]).toBeCloseTo(Math.log(2));
    expect(wide[0]).toBeCloseTo(0);
  });
  it('clamps huge size deltas instead of overflowing', () => {
    const b = decodeBox([0, 0, 100, 100], anchor, RPN_WEIGHTS);
    expect(Number.isFinite(b[2] - b[0])).toBe(true);
    expect((b[2] - b[0]) / 40).toBeCloseTo(1000 / 16, 3);
  });
});

describe('IoU and NMS', () => {
  it('computes IoU by hand-worked cases', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150);
    expect(iou([0, 0, 10, 10], [10, 10, 20, 20])).toBe(0);
    expect(iou([0, 0, 10, 10], [2, 2, 4, 4])).toBeCloseTo(4 / 100);
  });
  it('suppresses overlapping boxes by score and keeps separate ones', () => {
    const boxes = new Float32Array([0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 0, 0, 10, 9]);
    const scores = [0.8, 0.9, 0.7, 0.95];
    // 3 (0.95) kept; 1 overlaps 3 by IoU 0.73 → out; 0 overlaps 3 by 0.9 → out; 2 kept.
    expect(nms(boxes, scores, 0.5)).toEqual([3, 2]);
    // A loose threshold keeps everything that overlaps less than 0.95.
    expect(nms(boxes, scores, 0.95)).toEqual([3, 1, 0, 2]);
    expect(nms(boxes, scores, 0.5, 1)).toEqual([3]);
    expect(nms(boxes, scores, 0.5, 10, 0.75)).toEqual([3]);
  });
  it('topK returns the largest scores first', () => {
    expect(topK([0.1, 0.9, 0.5, 0.7], 2)).toEqual([1, 3]);
  });
});
