import { describe, expect, it } from 'vitest';
import { packedRgb, parseFramerate, rgbStride } from '../../src/capture/packed_rgb.js';

describe('packedRgb', () => {
  it('returns the same buffer when rows are already packed', () => {
    const data = new Uint8Array(4 * 2 * 3);
    expect(packedRgb(data, 4, 2)).toBe(data);
  });

  it('drops the padding GStreamer adds to each RGB row', () => {
    const width = 3; // 9 bytes per row, padded to 12
    const height = 2;
    expect(rgbStride(width)).toBe(12);
    const padded = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 0xee, 0xee, 0xee, 10, 11, 12, 13, 14, 15, 16, 17, 18, 0xee, 0xee, 0xee]);
    expect(Array.from(packedRgb(padded, width, height))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
  });

  it('refuses a buffer too short for its caps', () => {
    expect(() => packedRgb(new Uint8Array(10), 3, 2)).toThrow(RangeError);
  });
});

describe('parseFramerate', () => {
  it('reads GStreamer fractions', () => {
    expect(parseFramerate('30/1')).toBe(30);
    expect(parseFramerate('30000/1001')).toBeCloseTo(29.97, 2);
    expect(parseFramerate('0/1')).toBeUndefined();
    expect(parseFramerate(undefined)).toBeUndefined();
  });
});
