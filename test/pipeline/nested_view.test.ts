import { describe, expect, it } from 'vitest';
import { appearanceDistance, appearanceOf } from '../../src/pipeline/appearance.js';
import { DEFAULT_EPISODE_PARAMS, isDifferentLesion } from '../../src/pipeline/episode_params.js';
import { containedFraction } from '../../src/pipeline/iou.js';
import { isNestedView, positionBetween } from '../../src/pipeline/nested_view.js';
import type { Box } from '../../src/types/index.js';
import { det, lcg, makeFrame } from './fixtures.js';

const SKIN: [number, number, number] = [215, 170, 150];
const LIGHT: [number, number, number] = [150, 95, 75];
const DARK: [number, number, number] = [80, 45, 35];
const P = DEFAULT_EPISODE_PARAMS.appearance;

/** Skin with a round lesion at (320, 240): a dark core of radius `core` inside a lighter rim of radius 80. */
function variegated(core: number, seed = 3) {
  const rnd = lcg(seed);
  return makeFrame(640, 480, (x, y) => {
    const n = (rnd() - 0.5) * 8;
    const r = Math.hypot(x - 320, y - 240);
    const c = r < core ? DARK : r < 80 ? LIGHT : SKIN;
    return [c[0] + n, c[1] + n, c[2] + n];
  });
}

/** Skin with one uniform lesion of colour `c`, radius `r`, at (320, 240). */
function uniform(c: [number, number, number], r: number, seed = 5) {
  const rnd = lcg(seed);
  return makeFrame(640, 480, (x, y) => {
    const n = (rnd() - 0.5) * 8;
    const v = Math.hypot(x - 320, y - 240) < r ? c : SKIN;
    return [v[0] + n, v[1] + n, v[2] + n];
  });
}

const WHOLE: Box = [240, 160, 400, 320];
const CORE: Box = [270, 190, 370, 290];

describe('nested views: a part of the lesion is the same lesion', () => {
  it('containedFraction and positionBetween', () => {
    expect(containedFraction(CORE, WHOLE)).toBe(1);
    expect(containedFraction([0, 0, 10, 10], [5, 0, 20, 10])).toBeCloseTo(0.5, 10);
    expect(containedFraction([0, 0, 0, 10], WHOLE)).toBe(0);
    expect(positionBetween([5, 0, 0], [0, 0, 0], [10, 0, 0])).toBeCloseTo(0.5, 10);
    expect(positionBetween([-5, 3, 0], [0, 0, 0], [10, 0, 0])).toBeCloseTo(-0.5, 10);
    expect(positionBetween([1, 2, 3], [4, 4, 4], [4, 4, 4])).toBe(0);
  });

  it('the mask shrinking to the dark core looks like another lesion to the colour rule, and is kept as the same one', () => {
    const frame = variegated(50);
    const whole = appearanceOf(frame, det(WHOLE, 0.2))!;
    const core = appearanceOf(frame, det(CORE, 0.2))!;
    expect(isDifferentLesion(appearanceDistance(whole, core), DEFAULT_EPISODE_PARAMS)).toBe(true);
    expect(isNestedView(whole, core, P)).toBe(true);
    expect(isNestedView(core, whole, P)).toBe(true); // and growing back: symmetric
  });

  it('a different, smaller lesion at the same place is surrounded by skin: not nested, whichever is the reference', () => {
    const whole = appearanceOf(variegated(50), det(WHOLE, 0.2))!;
    const other = appearanceOf(uniform(DARK, 50), det(CORE, 0.2))!;
    expect(isDifferentLesion(appearanceDistance(whole, other), DEFAULT_EPISODE_PARAMS)).toBe(true);
    expect(isNestedView(whole, other, P)).toBe(false);
    expect(isNestedView(other, whole, P)).toBe(false);
  });

  it('a part whose colour is not among the whole lesion\'s colours is not nested; nor one outside its box', () => {
    const frame = variegated(50);
    const whole = appearanceOf(frame, det(WHOLE, 0.2))!;
    const core = appearanceOf(frame, det(CORE, 0.2))!;
    const blue = { ...core, lesion: { ...core.lesion, mean: [core.lesion.mean[0], core.lesion.mean[1], core.lesion.mean[2] - 60] as [number, number, number] } };
    expect(isNestedView(whole, blue, P)).toBe(false);
    const beside = { ...core, box: [380, 190, 480, 290] as Box };
    expect(isNestedView(whole, beside, P)).toBe(false);
    // No surroundings to read (mask fills its box): abstain.
    expect(isNestedView(whole, { ...core, skin: null }, P)).toBe(false);
  });

  it('a deep core (ringed by colour as lesion-like as the whole) may lie further out in colour; a part ringed by less may not', () => {
    // The whole: lesion mean L* 40 (std 5 per channel), skin L* 70. Parts at L* 29 (z 2.2, past nestedZ 1.5).
    const view = (mean: [number, number, number], skin: [number, number, number], box: Box) => ({ lesion: { mean, std: [5, 5, 5] as [number, number, number], samples: 200 }, skin, areaFraction: 0.1, fill: 0.6, aspect: 1, box });
    const whole = view([40, 20, 20], [70, 10, 15], WHOLE);
    const deep = view([29, 20, 20], [35, 20, 20], CORE); // surroundings beyond the whole's mean: ring 1.17
    const shallow = view([29, 20, 20], [52, 16, 18], CORE); // surroundings ~0.6 of the way: ring < 1
    expect(positionBetween(deep.skin, whole.skin, whole.lesion.mean)).toBeGreaterThan(1);
    expect(isNestedView(whole, deep, P)).toBe(true);
    expect(isNestedView(deep, whole, P)).toBe(true);
    expect(isNestedView(whole, shallow, P)).toBe(false);
    // Without the tier (deep ring out of reach) the same deep core is not nested: the tier is what keeps it.
    expect(isNestedView(whole, deep, { ...P, nestedDeepRing: Infinity })).toBe(false);
    // And past nestedDeepZ it is not nested either.
    expect(isNestedView(whole, view([20, 20, 20], [35, 20, 20], CORE), P)).toBe(false);
  });
});
